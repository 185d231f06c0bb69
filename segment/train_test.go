package segment

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/deepscope/deepscope/nn"
	"github.com/deepscope/deepscope/tensor"
)

// tinyConfig trains a very small U-Net on synthetic discs in a few seconds.
func tinyConfig(data string) Config {
	return Config{Data: data, Epochs: 60, Size: 32, Base: 8, Depth: 2, Batch: 4, LR: 5e-3, Holdout: 0.2,
		ValEvery: 20, Seed: 1, Tile: TileConfig{Tile: 64, Overlap: 16}}
}

func TestTrainPredictEndToEnd(t *testing.T) {
	tensor.SetThreads(1)
	defer tensor.SetThreads(0)
	data := writeDataset(t, t.TempDir(), 16, 64, 7)
	out := filepath.Join(t.TempDir(), "run")
	t0 := time.Now()
	sum, err := Train(context.Background(), tinyConfig(data), Options{Out: out})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("trained %d epochs in %.1fs: hold-out score %.3f at epoch %d", sum.Epochs, time.Since(t0).Seconds(), sum.Best, sum.BestEpoch)
	for _, f := range []string{RunFile, CheckpointFile, BestFile, MetricsFile} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("run directory lacks %s", f)
		}
	}
	m, ri, err := Load(out)
	if err != nil {
		t.Fatal(err)
	}
	if !m.Instance.HV || m.Instance.Energy == 0 {
		t.Errorf("loaded thresholds %+v: want the default hv head's, with its energy", m.Instance)
	}
	if len(ri.Holdout) != 3 || len(ri.Train) != 13 {
		t.Errorf("hold-out of %d and %d training images, want 3 and 13", len(ri.Holdout), len(ri.Train))
	}
	checkLoadedWeights(t, out, ri, m)
	// A new image, larger than a window, with touching nuclei.
	img, truth := touchingNuclei()
	checkSegments(t, "trained model", truth, m.Segment(img))

	// Tiling with the real network: windows of 64 with overlap 32 against
	// one window holding the whole image. The network's receptive field
	// is wider than the overlap, so probabilities differ a little near
	// window borders; the objects must still agree.
	m.Tile = TileConfig{Tile: 128}
	whole := m.Segment(img)
	m.Tile = TileConfig{Tile: 64, Overlap: 32}
	tiled := m.Segment(img)
	s := Score(whole, tiled)
	t.Logf("tiled against untiled: score %.3f, AP50 %.3f", s.Score, s.AP50)
	if s.AP50 < 0.95 {
		t.Errorf("tiled against untiled: AP50 %.3f (%d and %d objects), want >= 0.95", s.AP50, s.Pred, s.True)
	}
}

func TestResumeRepeatsTheRun(t *testing.T) {
	tensor.SetThreads(1)
	defer tensor.SetThreads(0)
	for _, head := range []string{HeadHV, HeadClasses} {
		t.Run(head, func(t *testing.T) { testResume(t, head) })
	}
}

func testResume(t *testing.T, head string) {
	data := writeDataset(t, t.TempDir(), 16, 64, 8)
	cfg := tinyConfig(data)
	cfg.Head = head
	cfg.Epochs, cfg.ValEvery, cfg.CheckpointEvery = 4, 2, 5 // 3 steps an epoch: step 5 is mid-epoch
	cfg.ContactWeight = 10                                  // the loss's weight map is rebuilt on resuming too
	whole, cut := filepath.Join(t.TempDir(), "whole"), filepath.Join(t.TempDir(), "cut")
	if _, err := Train(context.Background(), cfg, Options{Out: whole}); err != nil {
		t.Fatal(err)
	}
	if _, err := Train(context.Background(), cfg, Options{Out: cut, StopAfterSteps: 5}); err != ErrInterrupted {
		t.Fatalf("stopped run: error %v, want ErrInterrupted", err)
	}
	if _, err := Train(context.Background(), cfg, Options{Out: cut}); err == nil {
		t.Errorf("a second run into the same directory was not refused")
	}
	if _, err := Train(context.Background(), Config{}, Options{Out: cut, Resume: true}); err != nil {
		t.Fatal(err)
	}
	a, _, err := Load(whole)
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := Load(cut)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range nnParams(a) {
		q := nnParams(b)[i]
		for k := range p {
			if p[k] != q[k] {
				t.Fatalf("parameter tensor %d differs at %d after resuming: %g, uninterrupted %g", i, k, q[k], p[k])
			}
		}
	}
	la, _ := ReadMetrics(whole)
	lb, _ := ReadMetrics(cut)
	if len(la) != 4 || len(lb) != 4 || *la[3].ValScore != *lb[3].ValScore {
		t.Errorf("metrics: %d and %d epochs logged, want 4 alike", len(la), len(lb))
	}
}

// nnParams returns the values of every parameter and buffer of m's net.
func nnParams(m *Model) [][]float32 {
	var out [][]float32
	for _, t := range nn.StateDict(m.Net) {
		out = append(out, t.Value.Values())
	}
	return out
}

// TestHoldoutSeed starts runs of seeds 1 and 2 on 20 images: with
// HoldoutSeed 1 the seed-2 run holds out the seed-1 run's images while
// its weights differ; without it, seed 2 draws its own hold-out.
func TestHoldoutSeed(t *testing.T) {
	data := writeDataset(t, t.TempDir(), 20, 64, 5)
	start := func(cfg Config) *trainer {
		cfg.Data, cfg.Holdout, cfg.Epochs = data, 0.25, 1
		tr, _, err := startTraining(cfg, Options{Out: filepath.Join(t.TempDir(), "run")})
		if err != nil {
			t.Fatal(err)
		}
		return tr
	}
	one, shared, two := start(Config{Seed: 1}), start(Config{Seed: 2, HoldoutSeed: 1}), start(Config{Seed: 2})
	if !slices.Equal(one.info.Holdout, shared.info.Holdout) || slices.Equal(one.info.Holdout, two.info.Holdout) {
		t.Errorf("hold-outs: seed 1 %v, seed 2 with hold-out seed 1 %v, seed 2 %v; want the first two equal, the third not", one.info.Holdout, shared.info.Holdout, two.info.Holdout)
	}
	w1, w2 := nn.StateDict(one.model.Net)[0].Value.Values(), nn.StateDict(shared.model.Net)[0].Value.Values()
	if slices.Equal(w1, w2) {
		t.Errorf("seeds 1 and 2 sharing a hold-out start from the same weights")
	}
}

// checkLoadedWeights checks that a trained run's thresholds were tuned
// for its last weights, which Load reads, and that a run tuned before the
// tuned file was recorded loads its best weights, an untuned one its last.
func checkLoadedWeights(t *testing.T, out string, ri *RunInfo, m *Model) {
	t.Helper()
	if ri.Tuning == nil || ri.Tuning.Weights != CheckpointFile || m.Weights != filepath.Join(out, CheckpointFile) {
		t.Fatalf("tuned %+v, loaded %s: want the last weights (%s) tuned and loaded", ri.Tuning, m.Weights, CheckpointFile)
	}
	first := func(net *Model) []float32 { return nn.StateDict(net.Net)[0].Value.Values() }
	ck := NewModel(rand.New(rand.NewPCG(5, 5)), ri.Config.WithDefaults())
	if err := loadWeights(ck.Net, filepath.Join(out, CheckpointFile)); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(first(m), first(ck)) {
		t.Error("Load's weights are not the checkpoint's")
	}
	for _, c := range []struct {
		tuning *Tuning
		want   string
	}{
		{&Tuning{Instance: ri.Tuning.Instance}, BestFile}, // tuned before Weights was recorded
		{nil, CheckpointFile},
	} {
		legacy := *ri
		legacy.Tuning = c.tuning
		if err := writeJSON(filepath.Join(out, RunFile), &legacy); err != nil {
			t.Fatal(err)
		}
		m, _, err := Load(out)
		if err != nil {
			t.Fatal(err)
		}
		if m.Weights != filepath.Join(out, c.want) {
			t.Errorf("tuning %+v: loaded %s, want %s", c.tuning, m.Weights, c.want)
		}
	}
	if err := writeJSON(filepath.Join(out, RunFile), ri); err != nil {
		t.Fatal(err)
	}
}
