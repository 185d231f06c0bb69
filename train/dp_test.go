package train

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deepscope/deepscope/nn"
	"github.com/deepscope/deepscope/privacy"
)

func tinyDPConfig(manifest string) Config {
	c := tinyConfig(manifest)
	c.DP, c.TargetEpsilon, c.Delta, c.MaxGradNorm = true, 8, 1e-3, 1
	return c
}

// TestDPRun trains a tiny model with DP-SGD end to end: the run uses
// group norm, stays within the budget, records its ledger (with the
// steps the checkpoint holds) and loads back for prediction.
func TestDPRun(t *testing.T) {
	out := t.TempDir()
	var log strings.Builder
	cfg := tinyDPConfig(tinyData(t))
	sum, err := Run(context.Background(), cfg, Options{Out: out, Log: &log})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Stopped != "epochs" {
		t.Errorf("stopped by %q, want epochs (the noise was chosen for them)", sum.Stopped)
	}
	if !strings.Contains(log.String(), "replaced by group norms") {
		t.Errorf("no message about group norm in:\n%s", log.String())
	}
	l, err := privacy.ReadLedger(out)
	if err != nil || l == nil {
		t.Fatalf("ledger %v, error %v", l, err)
	}
	if l.Epsilon > cfg.TargetEpsilon || l.Epsilon < 0.9*cfg.TargetEpsilon {
		t.Errorf("ledger epsilon %g for target %g: want just under it", l.Epsilon, cfg.TargetEpsilon)
	}
	if l.Steps != l.PlannedSteps || l.Steps == 0 || l.Delta != cfg.Delta || l.MaxGradNorm != 1 || !(l.NoiseMultiplier > 0) {
		t.Errorf("ledger %+v", l)
	}
	if want, _ := privacy.Epsilon(l.SampleRate, l.NoiseMultiplier, l.Steps, l.Delta); want != l.Epsilon {
		t.Errorf("ledger epsilon %g, accountant %g", l.Epsilon, want)
	}
	m, err := Load(out)
	if err != nil {
		t.Fatal(err)
	}
	if countGroupNorms(m.Net) == 0 {
		t.Error("the loaded DP model has no group norm")
	}
	nn.Walk(m.Net, func(name string, _ *nn.Param) {
		if strings.Contains(name, "running_") {
			t.Errorf("DP model has batch-norm buffer %s", name)
		}
	})
	events, _ := filepath.Glob(filepath.Join(out, EventsDir, "events.out.tfevents.*"))
	for _, e := range events {
		b, _ := os.ReadFile(e)
		if strings.Contains(string(b), "train/sample_") {
			t.Errorf("%s holds training images", e)
		}
	}
}

// TestDPBudgetStops gives a fixed noise that spends the budget before the
// planned epochs end: the run must stop, keep its model and record an ε
// within the target.
func TestDPBudgetStops(t *testing.T) {
	out := t.TempDir()
	cfg := tinyDPConfig(tinyData(t))
	cfg.TargetEpsilon, cfg.NoiseMultiplier, cfg.Epochs = 3, 0.8, 3
	var log strings.Builder
	sum, err := Run(context.Background(), cfg, Options{Out: out, Log: &log})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Stopped != "privacy budget" || !strings.Contains(log.String(), "privacy budget") {
		t.Errorf("stopped by %q; log:\n%s", sum.Stopped, log.String())
	}
	l, err := privacy.ReadLedger(out)
	if err != nil || l == nil {
		t.Fatalf("ledger %v, error %v", l, err)
	}
	next, _ := privacy.Epsilon(l.SampleRate, l.NoiseMultiplier, l.Steps+1, l.Delta)
	if l.Epsilon > 3 || next <= 3 || l.Steps >= l.PlannedSteps {
		t.Errorf("stopped at %d of %d steps with epsilon %g (next step %g), target 3", l.Steps, l.PlannedSteps, l.Epsilon, next)
	}
	if _, err := os.Stat(filepath.Join(out, BestFile)); err != nil {
		t.Error("no best model kept")
	}
}

// TestDPConfigErrors checks that DP settings out of range are refused
// with the field named.
func TestDPConfigErrors(t *testing.T) {
	base := tinyDPConfig("x.csv")
	for _, c := range []struct {
		change func(*Config)
		want   string
	}{
		{func(c *Config) { c.TargetEpsilon, c.NoiseMultiplier = 0, 0 }, "target_epsilon"},
		{func(c *Config) { c.Delta = 1 }, "delta"},
		{func(c *Config) { c.MaxGradNorm = -1 }, "max_grad_norm"},
		{func(c *Config) { c.NoiseMultiplier = -1 }, "noise_multiplier"},
		{func(c *Config) { c.ClipNorm = 1 }, "clip_norm"},
		{func(c *Config) { c.DP = false }, "dp"},
		{func(c *Config) { c.BalanceBy = "site" }, "balance_by"},
	} {
		cfg := base
		c.change(&cfg)
		err := cfg.WithDefaults().Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("want an error naming %s, got %v", c.want, err)
		}
	}
	if err := base.WithDefaults().Validate(); err != nil {
		t.Errorf("valid DP config refused: %v", err)
	}
}

// TestDPRefusesUnsupportedModel checks that a model with a layer that has
// no per-sample gradients is refused, naming it.
func TestDPRefusesUnsupportedModel(t *testing.T) {
	cfg := tinyDPConfig(tinyData(t))
	cfg.Model = "unet"
	_, err := Run(context.Background(), cfg, Options{Out: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "per-sample gradients") || errors.Is(err, ErrInterrupted) {
		t.Errorf("unet with DP: %v", err)
	}
}

// TestDPResume interrupts a DP run and resumes it: the ledger must end
// with every step counted and the budget kept.
func TestDPResume(t *testing.T) {
	out := t.TempDir()
	cfg := tinyDPConfig(tinyData(t))
	if _, err := Run(context.Background(), cfg, Options{Out: out, StopAfterSteps: 5}); !errors.Is(err, ErrInterrupted) {
		t.Fatalf("interrupted run: %v", err)
	}
	mid, err := privacy.ReadLedger(out)
	if err != nil || mid == nil || mid.Steps != 4 { // checkpoints every 2 steps
		t.Fatalf("ledger after the interruption: %+v, %v", mid, err)
	}
	sum, err := Run(context.Background(), Config{}, Options{Out: out, Resume: true})
	if err != nil {
		t.Fatal(err)
	}
	l, err := privacy.ReadLedger(out)
	if err != nil || l == nil {
		t.Fatal(err)
	}
	if l.Steps != l.PlannedSteps || l.Epsilon > cfg.TargetEpsilon || l.NoiseMultiplier != mid.NoiseMultiplier || sum.Stopped != "epochs" {
		t.Errorf("resumed run: %+v, ledger %+v", sum, l)
	}
}

// TestDPTinyBatches trains with an expected batch of 2 out of 112 images,
// so that about one step in seven samples no image at all (the chance of
// none in 56 steps is 3e-4): empty steps must still add noise and the run
// must go through.
func TestDPTinyBatches(t *testing.T) {
	out := t.TempDir()
	cfg := tinyDPConfig(tinyData(t))
	cfg.Batch, cfg.CheckpointEvery, cfg.Epochs = 2, 0, 1
	sum, err := Run(context.Background(), cfg, Options{Out: out})
	if err != nil {
		t.Fatal(err)
	}
	l, err := privacy.ReadLedger(out)
	if err != nil || l == nil || l.Steps != 56 || l.Epsilon > cfg.TargetEpsilon || sum.Stopped != "epochs" {
		t.Errorf("summary %+v, ledger %+v, error %v", sum, l, err)
	}
}
