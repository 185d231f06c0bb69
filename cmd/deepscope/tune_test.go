package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deepscope/deepscope/synth"
	"github.com/deepscope/deepscope/train"
	"github.com/deepscope/deepscope/tune"
)

// TestTuneBaseConfig checks that the base config of a search combines the
// defaults, a config file and train's flags as train does, and that
// --seed (the search's) leaves the training seed alone.
func TestTuneBaseConfig(t *testing.T) {
	path := writeTemp(t, `{"data": "x", "epochs": 7, "lr": 0.01, "seed": 5}`)
	for _, c := range []struct {
		args []string
		seed uint64
	}{
		{[]string{"--config", path, "--lr", "0.005", "--size", "28", "--seed", "9"}, 5},
		{[]string{"--config", path, "--lr", "0.005", "--size", "28", "--train-seed", "3"}, 3},
	} {
		cmd := newTuneCmd()
		if err := cmd.ParseFlags(c.args); err != nil {
			t.Fatal(err)
		}
		cfg, err := tuneBase(cmd.Flags(), path)
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Epochs != 7 || cfg.LR != 0.005 || cfg.Size != 28 || cfg.Data != "x" || cfg.Seed != c.seed {
			t.Errorf("%v: base config %+v", c.args, cfg)
		}
		if cfg.WeightDecay != train.Defaults().WeightDecay {
			t.Errorf("%v: defaults lost: %+v", c.args, cfg)
		}
	}
}

// TestTuneCommand runs a two-trial random search on tiny synthetic data
// and resumes it with more trials.
func TestTuneCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("trains three tiny models")
	}
	tmp := t.TempDir()
	manifest, err := synth.Generate(filepath.Join(tmp, "data"), synth.Config{N: 96, Size: 16, Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	space := filepath.Join(tmp, "space.json")
	if err := os.WriteFile(space, []byte(`{"lr": {"log": [1e-3, 1e-2]}, "batch": {"choice": [16, 32]}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(tmp, "search")
	run := func(args ...string) string {
		t.Helper()
		var stdout, stderr bytes.Buffer
		root := newRoot()
		root.SetOut(&stdout)
		root.SetErr(&stderr)
		root.SetArgs(append([]string{"--threads", "1", "tune"}, args...))
		if err := root.Execute(); err != nil {
			t.Fatalf("tune %v: %v\n%s", args, err, stderr.String())
		}
		return stdout.String()
	}
	got := run("--data", manifest, "--size", "16", "--epochs", "1", "--warmup-epochs", "0", "--tta=false",
		"--space", space, "--strategy", "random", "--trials", "2", "--out", out)
	if !strings.Contains(got, "2 trials in") || !strings.Contains(got, "best: trial") {
		t.Errorf("output:\n%s", got)
	}
	got = run("--resume", out, "--trials", "3")
	if !strings.Contains(got, "3 trials in") || strings.Count(got, " complete ") != 3 {
		t.Errorf("resumed output:\n%s", got)
	}
	cfg, err := train.LoadConfig(filepath.Join(out, tune.BestFile))
	if err != nil || cfg.Epochs != 1 || cfg.Size != 16 || cfg.Data != manifest {
		t.Errorf("best.json: %+v, %v", cfg, err)
	}
}
