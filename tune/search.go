package tune

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/deepscope/deepscope/data"
	"github.com/deepscope/deepscope/tensor"
	"github.com/deepscope/deepscope/train"
)

// Options describe a search. The fields with JSON names are stored in
// search.json, so that a resumed search goes on as it started.
type Options struct {
	Strategy string       `json:"strategy"` // random, grid or asha (random sampling, early stopping by ASHA)
	Space    Space        `json:"space"`
	Base     train.Config `json:"base"`   // the config every trial starts from; its Data is the dataset
	Trials   int          `json:"trials"` // trials to start; 0: until the budget is spent (grid: the whole grid)
	// Budget is the wall time the search may take, resumed parts included;
	// when it is spent, no trial starts and running ones are cancelled.
	// 0: no limit.
	Budget     time.Duration `json:"budget"`
	Parallel   int           `json:"parallel"`    // trials at once; 1 when zero
	Threads    int           `json:"threads"`     // kernel threads in all, shared by the parallel trials; 0: tensor.Threads()
	Seed       uint64        `json:"seed"`        // seeds the sampling of trials (not their training: Base.Seed does)
	Metric     string        `json:"metric"`      // validation metric to rank by: accuracy (default), auc or loss
	ASHA       ASHA          `json:"asha"`        // rungs, for the asha strategy
	GridPoints int           `json:"grid_points"` // values per range in a grid; 3 when zero
	// Baseline makes trial 1 the base config itself (its own values of the
	// space's fields), as Optuna's enqueue_trial does, so the leaderboard
	// shows what the search gained over it. It counts as one of Trials.
	Baseline bool `json:"baseline,omitempty"`

	Out     string    `json:"-"` // search directory
	Resume  bool      `json:"-"` // continue the search in Out; Budget, Trials, Parallel and Threads given here (non-zero) replace the stored ones
	Log     io.Writer `json:"-"` // a line per trial event; nil discards them
	Version string    `json:"-"` // deepscope version recorded in the trials' run.json
}

// Result is what Run reports when the search ends.
type Result struct {
	Options Options       // the options the search ran with (the stored ones, when resumed)
	Trials  []Trial       // every trial, by id
	Best    *Trial        // see Best; nil when no trial finished an epoch
	Spent   time.Duration // wall time spent, resumed parts included
	Stopped string        // why the search ended: "trials" (all done), "budget" or "interrupted"
}

// ErrInterrupted is returned when the context is cancelled: the running
// trials are recorded as cancelled, and Run with Options.Resume goes on
// from there.
var ErrInterrupted = errors.New("tune: interrupted")

// search is one process's part of a search.
type search struct {
	mu      sync.Mutex
	opt     Options
	dir     string
	trials  []*Trial // by id - 1
	events  []Trial  // trials.jsonl
	queue   []int    // ids to resume from their checkpoints first
	grid    []Params
	per     int // threads per trial
	spent0  float64
	started time.Time
	log     io.Writer
	abort   error // set when the first trials all fail: no point in more
}

func (o Options) withDefaults() Options {
	if o.Parallel < 1 {
		o.Parallel = 1
	}
	if o.Threads < 1 {
		o.Threads = tensor.Threads()
	}
	if o.Metric == "" {
		o.Metric = "accuracy"
	}
	if o.GridPoints < 1 {
		o.GridPoints = 3
	}
	o.ASHA = o.ASHA.withDefaults()
	return o
}

func (o Options) validate() error {
	switch {
	case !slices.Contains([]string{"random", "grid", "asha"}, o.Strategy):
		return fmt.Errorf("tune: strategy %q: want random, grid or asha", o.Strategy)
	case !slices.Contains(Metrics, o.Metric):
		return fmt.Errorf("tune: metric %q: want accuracy, auc or loss", o.Metric)
	case len(o.Space) == 0:
		return fmt.Errorf("tune: the search space is empty")
	case o.Trials < 0 || o.Budget < 0:
		return fmt.Errorf("tune: trials %d, budget %v: want >= 0", o.Trials, o.Budget)
	case o.Trials == 0 && o.Budget == 0 && o.Strategy != "grid":
		return fmt.Errorf("tune: give a number of trials or a budget, or the %s search never ends", o.Strategy)
	}
	if err := o.Base.WithDefaults().Validate(); err != nil {
		return err
	}
	path := o.Base.Data // as train opens it, so a wrong path fails once, not once per trial
	if o.Base.Split != "" {
		path = o.Base.Split
	}
	_, err := data.Open(path)
	return err
}

// Run carries out a search, writing the search directory opt.Out:
// search.json, trials.jsonl (a line each time a trial changes state, the
// file rewritten atomically), a train run directory per trial
// (trial-001, ...), and, when it ends, leaderboard.html and best.json.
// With opt.Resume it continues the search found in opt.Out: finished
// trials are kept, paused ones stay promotable, and trials that were
// running resume from their checkpoints.
//
// Trials run in goroutines, opt.Parallel at once, each with
// opt.Threads/opt.Parallel kernel threads: Run sets the process-wide
// thread count (tensor.SetThreads) for its duration, so nothing else
// should compute in the process meanwhile.
func Run(ctx context.Context, opt Options) (*Result, error) {
	s, err := open(opt)
	if err != nil {
		return nil, err
	}
	old := tensor.Threads()
	// Start Threads-Parallel pool workers, then let each trial split its
	// kernels Threads/Parallel ways: every trial's goroutine does one part
	// and the workers the rest, so K trials keep Threads cores busy.
	tensor.SetThreads(max(1, s.opt.Threads-s.opt.Parallel+1))
	tensor.SetThreads(s.per)
	defer tensor.SetThreads(old)
	return s.run(ctx)
}

func (s *search) run(ctx context.Context) (*Result, error) {
	bctx, cancel := ctx, context.CancelFunc(func() {})
	if s.opt.Budget > 0 {
		bctx, cancel = context.WithTimeout(ctx, s.opt.Budget-s.spent())
	}
	defer cancel()
	done := make(chan outcome)
	running := 0
	var fatal error
	for {
		for running < s.opt.Parallel && bctx.Err() == nil && fatal == nil && s.abort == nil {
			s.mu.Lock()
			j, ok := s.next()
			if ok {
				j.t.Status, j.t.Threads, j.t.Error = Running, s.per, ""
				fatal = s.record(j.t)
				fmt.Fprintf(s.log, "trial %d %s: %s\n", j.t.ID, map[bool]string{true: "continues", false: "starts"}[j.resume], ParamString(s.opt.Space, j.t.Params))
			}
			s.mu.Unlock()
			if !ok || fatal != nil {
				break
			}
			running++
			go func(j job) {
				sum, err := s.train(bctx, j)
				done <- outcome{j, sum, err}
			}(j)
		}
		if running == 0 {
			break
		}
		o := <-done
		running--
		s.mu.Lock()
		if err := s.finish(o); err != nil && fatal == nil {
			fatal = err
		}
		s.mu.Unlock()
	}
	if fatal != nil {
		return nil, fatal
	}
	if s.abort != nil {
		return nil, s.abort
	}
	res := &Result{Options: s.opt, Stopped: "trials"}
	switch {
	case ctx.Err() != nil:
		res.Stopped = "interrupted"
	case bctx.Err() != nil:
		res.Stopped = "budget"
	default: // nothing left to start or promote: the paused trials lose
		for _, t := range s.trials {
			if t.Status == Paused {
				t.Status = Pruned
				if err := s.record(t); err != nil {
					return nil, err
				}
			}
		}
	}
	res.Spent = s.spent()
	for _, t := range s.trials {
		res.Trials = append(res.Trials, *t)
	}
	if b, ok := Best(res.Trials, s.opt.Metric); ok {
		res.Best = &b
	}
	if err := s.saveSettings(); err != nil {
		return nil, err
	}
	if err := WriteOutputs(s.dir, s.opt, res.Trials); err != nil {
		return nil, err
	}
	if res.Stopped == "interrupted" {
		return res, ErrInterrupted
	}
	return res, nil
}

// next chooses what a free worker does, with s.mu held: continue a trial
// the last session left running, else promote a paused trial (asha), else
// start a new one.
func (s *search) next() (job, bool) {
	if len(s.queue) > 0 {
		t := s.trials[s.queue[0]-1]
		s.queue = s.queue[1:]
		return job{t, true}, true
	}
	if s.opt.Strategy == "asha" {
		if id, ok := NextPromotion(s.rungResults(), s.opt.ASHA.Eta); ok {
			return job{s.trials[id-1], true}, true
		}
	}
	n := len(s.trials)
	limit, first := s.opt.Trials, 0 // first: trials before the sampled or grid ones
	if s.opt.Baseline {
		first = 1
	}
	if s.opt.Strategy == "grid" && (limit == 0 || limit > len(s.grid)+first) {
		limit = len(s.grid) + first
	}
	if limit > 0 && n >= limit {
		return job{}, false
	}
	id := n + 1
	var p Params
	switch {
	case n < first:
		p = baseParams(s.opt.Space, s.opt.Base)
	case s.opt.Strategy == "grid":
		p = s.grid[n-first]
	default:
		p = s.sample(id)
	}
	t := &Trial{ID: id, Dir: fmt.Sprintf("trial-%03d", id), Params: p}
	if c, err := Apply(s.opt.Base, p); err == nil {
		t.MaxEpochs = c.WithDefaults().Epochs
	}
	s.trials = append(s.trials, t)
	return job{t, false}, true
}

// baseParams returns base's own values of the space's fields.
func baseParams(sp Space, base train.Config) Params {
	b, _ := json.Marshal(base)
	var m map[string]any
	json.Unmarshal(b, &m)
	p := Params{}
	for _, q := range sp {
		p[q.Name] = m[q.Name]
	}
	return p
}

// sample draws trial id's params from a stream of its own, so that trial
// id gets the same params whatever ran before it; a draw equal to an
// earlier trial's is drawn again (up to 100 times), as a space of few
// choices would otherwise repeat trials.
func (s *search) sample(id int) Params {
	rng := rand.New(rand.NewPCG(s.opt.Seed, uint64(id)))
	var p Params
	for range 100 {
		p = s.opt.Space.Sample(rng)
		if !slices.ContainsFunc(s.trials, func(t *Trial) bool { return sameJSON(t.Params, p) }) {
			break
		}
	}
	return p
}

// rungResults lists, for each rung, every trial that reached it with its
// score there; call with s.mu held.
func (s *search) rungResults() [][]RungResult {
	maxE := 0
	for _, t := range s.trials {
		maxE = max(maxE, t.MaxEpochs)
	}
	var out [][]RungResult
	for _, r := range s.opt.ASHA.Rungs(maxE) {
		var rung []RungResult
		for _, t := range s.trials {
			if len(t.Curve) >= r {
				rung = append(rung, RungResult{Trial: t.ID, Value: score(s.opt.Metric, t.Curve[r-1]),
					Paused: t.Status == Paused && t.Epochs == r})
			}
		}
		out = append(out, rung)
	}
	return out
}
