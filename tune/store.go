package tune

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/deepscope/deepscope/data"
	"github.com/deepscope/deepscope/jsonl"
	"github.com/deepscope/deepscope/train"
)

// stored is the content of search.json.
type stored struct {
	Options Options `json:"options"`
	Spent   float64 `json:"spent_s"` // wall seconds spent in earlier sessions and this one so far
	Version string  `json:"deepscope_version"`
}

// open starts a search directory, or with opt.Resume reads one, and
// returns the search ready to run.
func open(opt Options) (*search, error) {
	if opt.Out == "" {
		return nil, fmt.Errorf("tune: no search directory given")
	}
	s := &search{dir: opt.Out, log: opt.Log, started: time.Now()}
	if s.log == nil {
		s.log = io.Discard
	}
	path := filepath.Join(opt.Out, SearchFile)
	if opt.Resume {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("tune: %s is not a search directory: %w", opt.Out, err)
		}
		var st stored
		if err := json.Unmarshal(b, &st); err != nil {
			return nil, fmt.Errorf("tune: %s: %w", path, err)
		}
		o := st.Options
		if opt.Budget > 0 {
			o.Budget = opt.Budget
		}
		if opt.Trials > 0 {
			o.Trials = opt.Trials
		}
		if opt.Parallel > 0 {
			o.Parallel = opt.Parallel
		}
		if opt.Threads > 0 {
			o.Threads = opt.Threads
		}
		o.Out, o.Resume, o.Log, o.Version = opt.Out, true, opt.Log, opt.Version
		opt, s.spent0 = o, st.Spent
	} else if _, err := os.Stat(path); err == nil {
		return nil, fmt.Errorf("tune: %s already holds a search; resume it or choose another directory", opt.Out)
	}
	opt = opt.withDefaults()
	if err := opt.validate(); err != nil {
		return nil, err
	}
	s.opt = opt
	s.per = max(1, opt.Threads/opt.Parallel)
	if opt.Strategy == "grid" {
		s.grid = opt.Space.Grid(opt.GridPoints)
	}
	if err := os.MkdirAll(opt.Out, 0o755); err != nil {
		return nil, fmt.Errorf("tune: %w", err)
	}
	if opt.Resume {
		if err := s.reload(); err != nil {
			return nil, err
		}
	}
	return s, s.saveSettings()
}

// reload reads trials.jsonl: the last line of each trial is its state.
// Trials that were running or cancelled are queued to resume, their curves
// re-read from their run directories (the truth after a kill).
func (s *search) reload() error {
	events, err := jsonl.ReadFile[Trial](filepath.Join(s.dir, TrialsFile))
	if err != nil {
		return err
	}
	s.events = events
	for _, e := range events {
		if e.ID < 1 || e.ID > len(s.trials)+1 {
			return fmt.Errorf("tune: %s: trial id %d out of order", TrialsFile, e.ID)
		}
		t := e
		if e.ID == len(s.trials)+1 {
			s.trials = append(s.trials, &t)
		} else {
			s.trials[e.ID-1] = &t
		}
	}
	for _, t := range s.trials {
		if t.Status != Running && t.Status != Cancelled {
			continue
		}
		s.readCurve(t)
		s.queue = append(s.queue, t.ID)
	}
	return nil
}

// readCurve sets t's curve from its run's metrics.jsonl, the truth after
// a kill or an early stop; a trial without one keeps what it has.
func (s *search) readCurve(t *Trial) {
	logs, err := train.ReadMetrics(filepath.Join(s.dir, t.Dir))
	if err != nil || len(logs) == 0 {
		return
	}
	t.Curve = t.Curve[:0]
	for _, l := range logs {
		t.Curve = append(t.Curve, metricOf(s.opt.Metric, l))
	}
	t.Epochs, t.Metric = len(t.Curve), t.Curve[len(t.Curve)-1]
}

func (s *search) saveSettings() error {
	st := stored{Options: s.opt, Spent: s.spent().Seconds(), Version: s.opt.Version}
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("tune: %w", err)
	}
	return data.WriteFileAtomic(filepath.Join(s.dir, SearchFile), append(b, '\n'))
}

func (s *search) spent() time.Duration {
	return time.Duration(s.spent0*float64(time.Second)) + time.Since(s.started)
}

// record appends t's state to trials.jsonl; call with s.mu held.
func (s *search) record(t *Trial) error {
	t.Time = time.Now().UTC()
	e := *t
	e.Curve = slices.Clone(t.Curve)
	s.events = append(s.events, e)
	if err := jsonl.WriteFile(filepath.Join(s.dir, TrialsFile), s.events); err != nil {
		return err
	}
	return s.saveSettings()
}
