package fl

import (
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/deepscope/deepscope/nn"
	"github.com/deepscope/deepscope/privacy"
)

// ServerConfig is a federated training server: the recipe, the quorum and
// the timing of rounds, and the run directory.
type ServerConfig struct {
	Recipe
	// Classes fixes the class list; when empty, the first cohort's classes
	// (the union of its members' lists, sorted) are taken.
	Classes []string
	// MinClients is the quorum: the fewest updates a round is aggregated
	// with, and the fewest joined clients that close the join phase.
	MinClients int
	// RoundTimeout is how long the cohort has to report once fixed
	// (default 10 minutes). At the deadline the round is aggregated if it
	// has its quorum of updates, and abandoned otherwise.
	RoundTimeout time.Duration
	// JoinWindow is how long the join phase stays open once the quorum
	// has joined, for more clients to come (default 5 s). It closes at once
	// when every client seen in earlier rounds has joined.
	JoinWindow time.Duration
	// Linger is how long the server keeps answering after the last round,
	// so clients learn that training is over (default 30 s); it stops
	// sooner once every member of the last cohort has been told.
	Linger  time.Duration
	Out     string    // run directory; a run found there is resumed
	Log     io.Writer // progress and rejections; nil discards them
	Version string    // deepscope version recorded in run.json
}

func (c ServerConfig) withDefaults() ServerConfig {
	c.Recipe = c.Recipe.withDefaults()
	if c.RoundTimeout == 0 {
		c.RoundTimeout = 10 * time.Minute
	}
	if c.JoinWindow == 0 {
		c.JoinWindow = 5 * time.Second
	}
	if c.Linger == 0 {
		c.Linger = 30 * time.Second
	}
	if c.Log == nil {
		c.Log = io.Discard
	}
	return c
}

// Server runs the rounds of a federated training. Its methods are safe for
// concurrent use; Handler serves the HTTP API (see RoundInfo) and Serve
// runs it over mutual TLS.
type Server struct {
	cfg ServerConfig

	mu     sync.Mutex
	st     serverState
	net    nn.Module // the global model; nil until the classes are known
	layout *Layout
	w      []float32 // the global model's float state, flat
	noise  *rand.Rand

	// the attempt at the round in progress
	phase    string
	token    string
	joined   map[string]JoinRequest
	quorumAt time.Time // when the quorum had joined
	cohort   []CohortMember
	deadline time.Time
	weights  []byte // the global model as served this attempt
	uploads  map[string]*upload
	started  time.Time

	done    chan struct{} // closed after the last round
	doneAt  time.Time
	told    map[string]bool // members of the last cohort told that training is over
	lastIDs []string
}

// upload is one client's report for the round in progress.
type upload struct {
	rejected   bool
	delta      []float32 // plain update
	masked     []uint32  // secure aggregation
	loss       float64
	valCorrect int
	valTotal   int
}

// NewServer prepares a server, resuming the run in cfg.Out if it holds
// one: its global model, round, classes and normalisation.
func NewServer(cfg ServerConfig) (*Server, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Recipe.Validate(); err != nil {
		return nil, err
	}
	switch {
	case cfg.MinClients < 1:
		return nil, fmt.Errorf("fl: min clients %d: want at least 1", cfg.MinClients)
	case cfg.Secure && cfg.MinClients < 2:
		return nil, fmt.Errorf("fl: secure aggregation needs at least 2 clients a round (min clients is %d)", cfg.MinClients)
	case cfg.Out == "":
		return nil, fmt.Errorf("fl: no run directory given")
	}
	if err := os.MkdirAll(cfg.Out, 0o755); err != nil {
		return nil, fmt.Errorf("fl: %w", err)
	}
	s := &Server{cfg: cfg, done: make(chan struct{}), told: map[string]bool{}, noise: secureRand()}
	resumed, err := s.loadState()
	if err != nil {
		return nil, err
	}
	if !resumed {
		s.st = serverState{Recipe: cfg.Recipe, Classes: slices.Clone(cfg.Classes)}
		if len(s.st.Classes) > 0 {
			if err := s.buildModel(); err != nil {
				return nil, err
			}
		}
	}
	if s.st.Round >= cfg.Rounds {
		s.finish(time.Now())
	} else {
		s.newAttempt(time.Now())
	}
	return s, nil
}

// Round returns the number of rounds aggregated so far.
func (s *Server) Round() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st.Round
}

// History returns the log of the aggregated rounds.
func (s *Server) History() []RoundLog {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.st.History)
}

// Done is closed when the last round has been aggregated.
func (s *Server) Done() <-chan struct{} { return s.done }

func (s *Server) logf(format string, args ...any) {
	fmt.Fprintf(s.cfg.Log, "fl server: "+format+"\n", args...)
}

// roundName is "round 3/20" for the round in progress.
func (s *Server) roundName() string { return fmt.Sprintf("round %d/%d", s.st.Round+1, s.cfg.Rounds) }

// buildModel makes the initial global model once the classes are known.
func (s *Server) buildModel() error {
	net, err := s.cfg.newModel(len(s.st.Classes))
	if err != nil {
		return err
	}
	s.net, s.layout = net, NewLayout(net)
	s.w = s.layout.Flatten(net, nil)
	return nil
}

// newAttempt opens the join phase of the round in progress.
func (s *Server) newAttempt(now time.Time) {
	s.phase, s.token = PhaseJoin, newToken()
	s.joined, s.uploads = map[string]JoinRequest{}, map[string]*upload{}
	s.quorumAt, s.deadline, s.cohort, s.weights = time.Time{}, time.Time{}, nil, nil
	s.started = now
}

// tick moves the round along: closes the join phase, aggregates or
// abandons at the deadline. Callers hold s.mu.
func (s *Server) tick(now time.Time) {
	switch s.phase {
	case PhaseJoin:
		if len(s.joined) < s.cfg.MinClients {
			return
		}
		if s.quorumAt.IsZero() {
			s.quorumAt = now
		}
		allKnown := len(s.st.Known) > 0
		for _, id := range s.st.Known {
			if _, ok := s.joined[id]; !ok {
				allKnown = false
			}
		}
		if allKnown || now.Sub(s.quorumAt) >= s.cfg.JoinWindow {
			if err := s.fixCohort(now); err != nil {
				s.logf("%s: %v; round abandoned", s.roundName(), err)
				s.newAttempt(now)
			}
		}
	case PhaseTrain:
		reported, accepted := 0, 0
		for _, u := range s.uploads {
			reported++
			if !u.rejected {
				accepted++
			}
		}
		switch {
		case reported == len(s.cohort) && accepted >= s.cfg.MinClients && !(s.cfg.Secure && accepted < reported):
			s.aggregate(now)
		case reported == len(s.cohort):
			s.abandon(now, fmt.Sprintf("%d of %d updates accepted", accepted, len(s.cohort)))
		case now.After(s.deadline) && s.cfg.Secure:
			s.abandon(now, fmt.Sprintf("deadline passed with %d of %d masked updates; the masks of the missing clients do not cancel", reported, len(s.cohort)))
		case now.After(s.deadline) && accepted >= s.cfg.MinClients:
			s.logf("%s: deadline passed; aggregating the %d updates of %d clients", s.roundName(), accepted, len(s.cohort))
			s.aggregate(now)
		case now.After(s.deadline):
			s.abandon(now, fmt.Sprintf("deadline passed with %d accepted updates, fewer than %d", accepted, s.cfg.MinClients))
		}
	}
}

// over reports whether the run is done and the server may stop: the
// members of the last cohort have been told, or Linger has passed.
func (s *Server) over(now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.phase != PhaseDone {
		return false
	}
	for _, id := range s.lastIDs {
		if !s.told[id] {
			return now.Sub(s.doneAt) >= s.cfg.Linger
		}
	}
	return true
}

func (s *Server) abandon(now time.Time, why string) {
	s.logf("%s: %s: round abandoned, run again with a new cohort", s.roundName(), why)
	s.newAttempt(now)
}

// fixCohort closes the join phase: settles the classes and normalisation
// on the first round, and serves the global model to the cohort.
func (s *Server) fixCohort(now time.Time) error {
	ids := slices.Sorted(maps.Keys(s.joined))
	if s.st.Classes == nil {
		set := map[string]bool{}
		for _, j := range s.joined {
			for _, c := range j.Classes {
				set[c] = true
			}
		}
		s.st.Classes = slices.Sorted(maps.Keys(set))
	}
	for _, id := range ids {
		if c := unknownClass(s.joined[id].Classes, s.st.Classes); c != "" {
			delete(s.joined, id)
			s.logf("%s: %s left out: class %q is not one of the run's %s", s.roundName(), id, c, strings.Join(s.st.Classes, ", "))
		}
	}
	ids = slices.Sorted(maps.Keys(s.joined))
	if len(ids) < s.cfg.MinClients {
		return fmt.Errorf("%d clients with the run's classes, fewer than %d", len(ids), s.cfg.MinClients)
	}
	newState := false
	if s.st.Mean == nil {
		var stats []ImageStats
		for _, id := range ids {
			if st := s.joined[id].Stats; st != nil {
				stats = append(stats, *st)
			}
		}
		mean, std, err := PoolStats(stats)
		if err != nil {
			return err
		}
		s.st.Mean, s.st.Std = mean, std
		newState = true
	}
	if s.net == nil {
		if err := s.buildModel(); err != nil {
			return err
		}
		newState = true
	}
	if newState { // classes and normalisation are the run's from now on
		if err := s.save(); err != nil {
			return err
		}
	}
	total := 0
	s.cohort = nil
	for _, id := range ids {
		j := s.joined[id]
		s.cohort = append(s.cohort, CohortMember{ID: id, Samples: j.Samples, PublicKey: j.PublicKey})
		total += j.Samples
		if !slices.Contains(s.st.Known, id) {
			s.st.Known = append(s.st.Known, id)
		}
	}
	b, err := encodeState(nn.StateDict(s.net), map[string]string{"round": fmt.Sprint(s.st.Round), MetaToken: s.token})
	if err != nil {
		return err
	}
	s.weights = b
	s.phase, s.deadline = PhaseTrain, now.Add(s.cfg.RoundTimeout)
	s.logf("%s: cohort of %d (%s), %d images; deadline %s", s.roundName(), len(ids), strings.Join(ids, ", "), total, s.deadline.Format(time.TimeOnly))
	return nil
}

// unknownClass returns the first of classes not in known, or "".
func unknownClass(classes, known []string) string {
	for _, c := range classes {
		if !slices.Contains(known, c) {
			return c
		}
	}
	return ""
}

// aggregate combines the round's updates into the global model, saves it
// and opens the next round.
func (s *Server) aggregate(now time.Time) {
	lc := s.cfg.RoundLocal(s.st.Round)
	rl := RoundLog{Round: s.st.Round + 1, LR: lc.LR}
	samples := map[string]int{}
	for _, m := range s.cohort {
		samples[m.ID] = m.Samples
	}
	var step []float32
	var valCorrect, valTotal int
	var ids []string
	for _, id := range slices.Sorted(maps.Keys(s.uploads)) {
		if u := s.uploads[id]; !u.rejected {
			ids = append(ids, id)
			rl.Samples += samples[id]
			valCorrect += u.valCorrect
			valTotal += u.valTotal
		}
	}
	for _, id := range ids {
		rl.TrainLoss += s.uploads[id].loss * float64(samples[id]) / float64(rl.Samples)
	}
	if s.cfg.Secure {
		sum := make([]uint32, s.layout.Total)
		for _, id := range ids {
			SumMasked(sum, s.uploads[id].masked)
		}
		step = unmaskedStep(sum, len(ids), s.cfg.Aggregate.DP, s.noise)
		rl.Clients = len(ids)
	} else {
		var us []Update
		for _, id := range ids {
			us = append(us, Update{Client: id, Samples: samples[id], Delta: s.uploads[id].delta})
		}
		var err error
		step, rl.Rejected, err = Combine(us, s.cfg.Aggregate, s.noise)
		if err != nil {
			s.abandon(now, err.Error())
			return
		}
		for _, r := range rl.Rejected {
			s.logf("%s: rejected %s: %s", s.roundName(), r.Client, r.Reason)
		}
		rl.Clients = len(us) - len(rl.Rejected)
	}
	if valTotal > 0 {
		rl.ClientValAccuracy = float64(valCorrect) / float64(valTotal)
	}
	s.layout.Apply(s.w, step)
	s.layout.Load(s.net, s.w)
	rl.Seconds = now.Sub(s.started).Seconds()
	s.st.Round++
	s.st.History = append(s.st.History, rl)
	if err := s.save(); err != nil {
		// The state on disk is the previous round's; keep going in memory
		// and try again after the next round.
		s.logf("%s: saving the state failed: %v", s.roundName(), err)
	}
	s.logf("round %d/%d: aggregated %d updates (%s), train loss %.4f, clients' val acc of the previous model %.4f, %.1fs",
		s.st.Round, s.cfg.Rounds, rl.Clients, s.cfg.Aggregate.Method, rl.TrainLoss, rl.ClientValAccuracy, rl.Seconds)
	if s.st.Round >= s.cfg.Rounds {
		s.lastIDs = nil
		for _, m := range s.cohort {
			s.lastIDs = append(s.lastIDs, m.ID)
		}
		s.finish(now)
		return
	}
	s.newAttempt(now)
}

// finish marks the run as done.
func (s *Server) finish(now time.Time) {
	if s.phase == PhaseDone {
		return
	}
	s.phase, s.token, s.doneAt = PhaseDone, "", now
	s.cohort, s.weights, s.joined, s.uploads = nil, nil, nil, nil
	s.logf("all %d rounds done; the global model is in %s", s.cfg.Rounds, s.cfg.Out)
	if dp := s.cfg.Aggregate.DP; dp.Clip > 0 && dp.Noise > 0 {
		// Clients are not sampled at random, so no amplification: q = 1.
		if eps, err := privacy.Epsilon(1, dp.Noise, s.st.Round, 1e-5); err == nil {
			s.logf("client-level privacy: epsilon %.3g at delta 1e-05 over %d rounds (noise %g, clip %g)", eps, s.st.Round, dp.Noise, dp.Clip)
		}
	}
	close(s.done)
}

// info returns the RoundInfo for client id. Callers hold s.mu.
func (s *Server) info(id string) RoundInfo {
	ri := RoundInfo{Round: s.st.Round, Rounds: s.cfg.Rounds, Phase: s.phase, Token: s.token,
		Model: s.cfg.Model, Size: s.cfg.Size, Crop: s.cfg.Crop, Classes: s.st.Classes,
		Mean: s.st.Mean, Std: s.st.Std, Local: s.cfg.RoundLocal(min(s.st.Round, s.cfg.Rounds-1)), Secure: s.cfg.Secure}
	switch s.phase {
	case PhaseTrain:
		ri.Deadline, ri.Cohort = s.deadline, s.cohort
		ri.Member = slices.ContainsFunc(s.cohort, func(m CohortMember) bool { return m.ID == id })
		_, ri.Reported = s.uploads[id]
	case PhaseJoin:
		_, ri.Member = s.joined[id]
	case PhaseDone:
		s.told[id] = true
	}
	return ri
}
