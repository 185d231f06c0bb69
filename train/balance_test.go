package train

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deepscope/deepscope/data"
	"github.com/deepscope/deepscope/nn"
	"github.com/deepscope/deepscope/tensor"
)

func TestGroupWeights(t *testing.T) {
	ds := &data.Dataset{Source: "manifest:m.csv"}
	for i, site := range []string{"a", "a", "a", "b", "a", "b", ""} {
		it := data.Item{Path: string(rune('p' + i)), Meta: map[string]string{"site": site}}
		ds.Items = append(ds.Items, it)
	}
	w, err := GroupWeights(ds, "site")
	if err != nil {
		t.Fatal(err)
	}
	// 7 images, 3 groups: a has 4, b 2, (missing) 1.
	want := map[string]float64{"a": 7.0 / 12, "b": 7.0 / 6, MissingGroup: 7.0 / 3}
	var mean float64
	for g, v := range want {
		if math.Abs(w[g]-v) > 1e-12 {
			t.Errorf("weight of %q = %v, want %v", g, w[g], v)
		}
	}
	for _, it := range ds.Items {
		mean += w[groupOf(it, "site")] / float64(len(ds.Items))
	}
	if math.Abs(mean-1) > 1e-12 {
		t.Errorf("mean image weight %v, want 1", mean)
	}
	if _, err := GroupWeights(ds, "scanner"); err == nil || !strings.Contains(err.Error(), "columns: site") {
		t.Errorf("unknown column: %v", err)
	}
}

// TestReweightGradient checks the group-weighted loss against its
// definition and its gradient against finite differences, with and without
// label smoothing and class weights.
func TestReweightGradient(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const rows, nc = 5, 4
	labels := []int{0, 3, 1, 1, 2}
	indices := []int{4, 0, 2, 1, 3}
	b := &groupBalance{weights: []float32{0.5, 2, 1, 0.25, 1.5}}
	for _, tc := range []struct {
		eps    float32
		weight []float32
	}{{0, nil}, {0.1, nil}, {0.2, []float32{1, 2, 0.5, 1}}} {
		logits := tensor.New(rows, nc)
		for i := range logits.Data {
			logits.Data[i] = float32(rng.NormFloat64())
		}
		loss := func(z *tensor.Tensor) (float64, *tensor.Tensor) {
			ce := nn.CrossEntropy{LabelSmoothing: tc.eps, Weight: tc.weight}
			ce.Forward(z, labels)
			g := ce.Backward().Clone()
			return float64(b.reweight(&ce, z, labels, indices, g)), g
		}
		got, grad := loss(logits)
		// the definition, in float64
		var want, norm float64
		for n, y := range labels {
			w := func(k int) float64 {
				if tc.weight == nil {
					return 1
				}
				return float64(tc.weight[k])
			}
			row := logits.Data[n*nc : (n+1)*nc]
			var z float64
			for _, v := range row {
				z += math.Exp(float64(v))
			}
			lp := func(k int) float64 { return float64(row[k]) - math.Log(z) }
			l := -(1 - float64(tc.eps)) * w(y) * lp(y)
			for k := range nc {
				l -= float64(tc.eps) / nc * w(k) * lp(k)
			}
			want += float64(b.weights[indices[n]]) * l
			norm += w(y)
		}
		want /= norm
		if math.Abs(got-want) > 1e-5 {
			t.Errorf("eps %v weights %v: loss %v, want %v", tc.eps, tc.weight, got, want)
		}
		const h = 1e-2
		for i := range logits.Data {
			z := logits.Clone()
			z.Data[i] += h
			up, _ := loss(z)
			z.Data[i] -= 2 * h
			down, _ := loss(z)
			if num := (up - down) / (2 * h); math.Abs(num-float64(grad.Data[i])) > 2e-3 {
				t.Errorf("eps %v weights %v: dL/dz[%d] = %v, finite difference %v", tc.eps, tc.weight, i, grad.Data[i], num)
			}
		}
	}
}

// TestBalanceByRun trains with group-balanced loss weights: run.json holds
// the weights, and an interrupted run resumes to the same weights bit for
// bit.
func TestBalanceByRun(t *testing.T) {
	manifest := tinyData(t)
	cfg := tinyConfig(manifest)
	cfg.BalanceBy = "site"
	ref := t.TempDir()
	if _, err := Run(context.Background(), cfg, Options{Out: ref}); err != nil {
		t.Fatal(err)
	}
	info, err := ReadRunInfo(ref)
	if err != nil {
		t.Fatal(err)
	}
	w := info.Config.GroupWeights
	if len(w) != 2 || !(w["site2"] > 1 && w["site1"] < 1) {
		t.Errorf("group weights %v: want site1 < 1 < site2 (site1 has more training images)", w)
	}
	plain := t.TempDir()
	if _, err := Run(context.Background(), tinyConfig(manifest), Options{Out: plain}); err != nil {
		t.Fatal(err)
	}
	if same, _ := sameTensors(filepath.Join(ref, CheckpointFile), filepath.Join(plain, CheckpointFile)); same {
		t.Error("balancing changed nothing")
	}
	out := t.TempDir()
	if _, err := Run(context.Background(), cfg, Options{Out: out, StopAfterSteps: 3}); !errors.Is(err, ErrInterrupted) {
		t.Fatal(err)
	}
	if _, err := Run(context.Background(), Config{}, Options{Out: out, Resume: true}); err != nil {
		t.Fatal(err)
	}
	if same, err := sameTensors(filepath.Join(ref, CheckpointFile), filepath.Join(out, CheckpointFile)); err != nil || !same {
		t.Errorf("resumed balanced run differs from the uninterrupted one (%v)", err)
	}
	bad := tinyConfig(manifest)
	bad.BalanceBy = "scanner"
	if _, err := Run(context.Background(), bad, Options{Out: t.TempDir()}); err == nil || !strings.Contains(err.Error(), "scanner") {
		t.Errorf("unknown balance column: %v", err)
	}
}
