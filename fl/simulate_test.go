package fl

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deepscope/deepscope/synth"
	"github.com/deepscope/deepscope/train"
)

// synthData writes a small, easy three-class synthetic dataset at 16 px
// with a split.csv (train/val/test and two sites) and returns its folder.
func synthData(t *testing.T, n int, seed uint64) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "cells")
	_, err := synth.Generate(dir, synth.Config{N: n, Size: 16, Seed: seed, Sites: 2, Difficulty: 0.05,
		Classes: []synth.Class{synth.Neutrophil, synth.Lymphocyte, synth.Platelet}})
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// tinyRecipe is CellNet at 16 px with small batches and one local epoch.
func tinyRecipe(rounds int) Recipe {
	r := DefaultRecipe()
	r.Size, r.Rounds = 16, rounds
	r.Local.Batch, r.Local.Augment, r.Local.LR = 8, "none", 3e-3
	return r
}

func TestSimulate(t *testing.T) {
	dir := synthData(t, 150, 3)
	out := filepath.Join(t.TempDir(), "run")
	var log strings.Builder
	res, err := Simulate(context.Background(), SimConfig{Recipe: tinyRecipe(3), Data: dir, Clients: 3,
		Partition: "dirichlet:0.5", Out: out, Log: &log})
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	if len(res.Rounds) != 3 || len(res.ClientSizes) != 3 || res.Test == nil {
		t.Fatalf("rounds %d, clients %d, test %v", len(res.Rounds), len(res.ClientSizes), res.Test)
	}
	total := 0
	for _, n := range res.ClientSizes {
		total += n
	}
	if total != 105 { // 70% of 150
		t.Errorf("clients hold %d training images, want 105", total)
	}
	t.Logf("test accuracy %.3f\n%s", res.Test.Result.Accuracy, log.String())
	last := res.Rounds[len(res.Rounds)-1]
	if last.TrainLoss >= res.Rounds[0].TrainLoss {
		t.Errorf("local training loss did not fall over the rounds: %+v", res.Rounds)
	}
	// Easy data: the federated model must beat chance (1/3) clearly.
	if acc := res.Test.Result.Accuracy; acc < 0.55 {
		t.Errorf("test accuracy %.3f after 3 rounds\n%s", acc, log.String())
	}
	// The run directory is one that train.Load reads.
	m, err := train.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Info.Classes) != 3 || len(m.Info.Mean) != 3 {
		t.Errorf("run.json: classes %v, mean %v", m.Info.Classes, m.Info.Mean)
	}
	b, err := os.ReadFile(filepath.Join(out, RoundsFile))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	var rl RoundLog
	if len(lines) != 3 || json.Unmarshal([]byte(lines[2]), &rl) != nil || rl.Round != 3 {
		t.Errorf("rounds.jsonl:\n%s", b)
	}
}

// Secure aggregation must not change the result beyond fixed-point
// rounding: the same simulation with masks gives the same global model.
func TestSimulateSecureMatchesPlain(t *testing.T) {
	dir := synthData(t, 60, 4)
	run := func(secure bool) []float32 {
		r := tinyRecipe(1)
		r.Secure = secure
		res, err := Simulate(context.Background(), SimConfig{Recipe: r, Data: dir, Clients: 2, Partition: "iid"})
		if err != nil {
			t.Fatal(err)
		}
		return NewLayout(res.Model).Flatten(res.Model, nil)
	}
	plain, masked := run(false), run(true)
	if !near32(plain, masked, 1e-5) {
		worst := 0.0
		for i := range plain {
			worst = max(worst, float64(plain[i]-masked[i]), float64(masked[i]-plain[i]))
		}
		t.Errorf("secure aggregation changed the model by up to %g", worst)
	}
}
