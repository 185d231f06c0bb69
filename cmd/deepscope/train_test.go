package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/deepscope/deepscope/train"
)

// TestTrainConfigPrecedence checks that defaults, a config file and flags
// combine as documented: the file over the defaults, flags over the file.
func TestTrainConfigPrecedence(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cfg.json")
	if err := os.WriteFile(path, []byte(`{"data": "x", "epochs": 7, "lr": 0.01}`), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := newTrainCmd()
	if err := cmd.ParseFlags([]string{"--config", path, "--lr", "0.005", "--augment", "strong"}); err != nil {
		t.Fatal(err)
	}
	cfg, err := loadConfigFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := applyChangedFlags(cmd.Flags(), &cfg); err != nil {
		t.Fatal(err)
	}
	d := train.Defaults()
	if cfg.Epochs != 7 || cfg.LR != 0.005 || cfg.Augment != "strong" || cfg.Data != "x" {
		t.Errorf("file and flags not applied: %+v", cfg)
	}
	if cfg.LabelSmoothing != d.LabelSmoothing || cfg.WeightDecay != d.WeightDecay || cfg.TTA != d.TTA {
		t.Errorf("defaults lost: %+v", cfg)
	}
	if _, err := loadConfigFile(writeTemp(t, `{"lr": 0.01, "epochz": 3}`)); err == nil {
		t.Error("a misspelt field was accepted")
	}
}

func writeTemp(t *testing.T, s string) string {
	path := filepath.Join(t.TempDir(), "c.json")
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
