package main

import (
	"testing"

	"github.com/deepscope/deepscope/train"
)

// TestTrainDPFlags checks that the DP flags reach the config's fields.
func TestTrainDPFlags(t *testing.T) {
	cmd := newTrainCmd()
	if err := cmd.ParseFlags([]string{"--data", "x", "--dp", "--target-epsilon", "8", "--delta", "1e-6", "--max-grad-norm", "0.5", "--noise-multiplier", "1.2"}); err != nil {
		t.Fatal(err)
	}
	cfg := train.Defaults()
	if err := applyChangedFlags(cmd.Flags(), &cfg); err != nil {
		t.Fatal(err)
	}
	if !cfg.DP || cfg.TargetEpsilon != 8 || cfg.Delta != 1e-6 || cfg.MaxGradNorm != 0.5 || cfg.NoiseMultiplier != 1.2 {
		t.Errorf("DP flags not applied: %+v", cfg)
	}
	if err := cfg.WithDefaults().Validate(); err != nil {
		t.Errorf("valid DP flags refused: %v", err)
	}
	plain := newTrainCmd()
	if err := plain.ParseFlags([]string{"--data", "x"}); err != nil {
		t.Fatal(err)
	}
	cfg = train.Defaults()
	if err := applyChangedFlags(plain.Flags(), &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.DP || cfg.Delta != 0 || cfg.MaxGradNorm != 0 {
		t.Errorf("DP flag defaults leaked into a plain run: %+v", cfg)
	}
}
