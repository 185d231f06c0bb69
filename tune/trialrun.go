package tune

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/deepscope/deepscope/train"
)

// job is a trial to run: a new one or one to continue from its checkpoint.
type job struct {
	t      *Trial
	resume bool
}

type outcome struct {
	job
	sum *train.Summary
	err error
}

// hook records each epoch of trial t and, for asha, pauses t at a rung
// where it is not among the best.
func (s *search) hook(t *Trial) func(train.EpochLog) bool {
	return func(l train.EpochLog) bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		v := metricOf(s.opt.Metric, l)
		t.Curve = append(t.Curve[:min(len(t.Curve), l.Epoch-1)], v)
		t.Epochs, t.Metric = l.Epoch, v
		if s.opt.Strategy != "asha" {
			return false
		}
		k := slices.Index(s.opt.ASHA.Rungs(t.MaxEpochs), l.Epoch)
		if k < 0 {
			return false
		}
		rung := s.rungResults()[k]
		values := make([]float64, len(rung))
		for i, r := range rung {
			values[i] = r.Value
		}
		return !Promotable(score(s.opt.Metric, v), values, s.opt.ASHA.Eta)
	}
}

// train runs or continues one trial.
func (s *search) train(ctx context.Context, j job) (*train.Summary, error) {
	dir := filepath.Join(s.dir, j.t.Dir)
	cfg, err := Apply(s.opt.Base, j.t.Params)
	if err != nil {
		return nil, err
	}
	if cfg.Workers == 0 {
		cfg.Workers = s.per
	}
	resume := j.resume
	if _, err := os.Stat(filepath.Join(dir, train.CheckpointFile)); err != nil {
		resume = false // killed before its first checkpoint: start it again
	}
	if !resume {
		if err := os.RemoveAll(dir); err != nil {
			return nil, fmt.Errorf("tune: %w", err)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("tune: %w", err)
	}
	logf, err := os.OpenFile(filepath.Join(dir, "train.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, fmt.Errorf("tune: %w", err)
	}
	defer logf.Close()
	if resume {
		cfg = train.Config{}
	}
	return train.Run(ctx, cfg, train.Options{Out: dir, Resume: resume, Log: logf, Version: s.opt.Version, EpochHook: s.hook(j.t)})
}

// finish records how a trial's run ended; call with s.mu held. Only a
// failure to write the search's own files is returned.
func (s *search) finish(o outcome) error {
	t := o.t
	s.readCurve(t) // the hook does not see an epoch that ends a run by early stopping
	switch {
	case o.err == nil:
		t.Status, t.Seconds = Complete, o.sum.Seconds
		if o.sum.Stopped == "paused" {
			t.Status = Paused
		}
	case errors.Is(o.err, train.ErrInterrupted):
		t.Status = Cancelled
	default:
		t.Status, t.Error = Failed, o.err.Error()
	}
	msg := fmt.Sprintf("trial %d %s after %d epochs", t.ID, t.Status, t.Epochs)
	if t.Epochs > 0 {
		msg += fmt.Sprintf(": %s %.4f", s.opt.Metric, t.Metric)
	}
	if t.Error != "" {
		msg += ": " + t.Error
	}
	fmt.Fprintln(s.log, msg)
	if t.Status == Failed && len(s.trials) >= 3 && !slices.ContainsFunc(s.trials, func(t *Trial) bool { return t.Status != Failed }) {
		s.abort = fmt.Errorf("tune: the first %d trials failed; the last: %s", len(s.trials), t.Error)
	}
	return s.record(t)
}
