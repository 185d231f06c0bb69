package metrics

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestMultiLabelHand checks a three-sample, two-label case worked by hand.
func TestMultiLabelHand(t *testing.T) {
	labels := [][]bool{{true, false}, {true, true}, {false, false}}
	probs := [][]float64{{0.9, 0.2}, {0.4, 0.7}, {0.6, 0.1}}
	r, err := EvaluateMultiLabel(labels, probs, []string{"effusion", "mass"}, Options{Resamples: -1})
	if err != nil {
		t.Fatal(err)
	}
	bce := -(math.Log(0.9) + math.Log(0.8) + math.Log(0.4) + math.Log(0.7) + math.Log(0.4) + math.Log(0.9)) / 6
	for _, c := range []struct {
		name      string
		got, want float64
	}{
		{"subset accuracy", r.SubsetAccuracy, 1.0 / 3},
		{"Hamming loss", r.HammingLoss, 2.0 / 6},
		{"precision 0", r.PerClass[0].Precision, 0.5},
		{"recall 0", r.PerClass[0].Recall, 0.5},
		{"F1 1", r.PerClass[1].F1, 1},
		{"AUC 0", r.PerClass[0].AUC, 0.5},
		{"AUC 1", r.PerClass[1].AUC, 1},
		{"macro F1", r.MacroF1, 0.75},
		{"macro AUC", r.AUC, 0.75},
		{"NLL", r.NLL, bce},
	} {
		if !near(c.got, c.want) {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if r.PerClass[0].Support != 2 || r.PerClass[0].Predicted != 2 || r.Confusion != nil || !math.IsNaN(r.Accuracy) {
		t.Errorf("label 0 support %d predicted %d, confusion %v, accuracy %v", r.PerClass[0].Support, r.PerClass[0].Predicted, r.Confusion, r.Accuracy)
	}
}

func TestMultiLabelBootstrap(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	n, k := 2000, 6
	labels := make([][]bool, n)
	probs := make([][]float64, n)
	for i := range n {
		labels[i] = make([]bool, k)
		probs[i] = make([]float64, k)
		for c := range k {
			labels[i][c] = rng.Float64() < 0.1*float64(c+1)
			z := rng.NormFloat64()
			if labels[i][c] {
				z += 1.5
			}
			probs[i][c] = 1 / (1 + math.Exp(-(z - 1)))
		}
	}
	r, err := EvaluateMultiLabel(labels, probs, nil, Options{Resamples: 300, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		v    float64
		iv   Interval
	}{
		{"subset accuracy", r.SubsetAccuracy, r.SubsetAccuracyCI},
		{"Hamming loss", r.HammingLoss, r.HammingLossCI},
		{"macro AUC", r.AUC, r.AUCCI},
		{"macro F1", r.MacroF1, r.MacroF1CI},
		{"AUC 0", r.PerClass[0].AUC, r.PerClass[0].AUCCI},
	} {
		if !c.iv.Contains(c.v) || c.iv[1]-c.iv[0] > 0.15 {
			t.Errorf("%s %v, interval %v", c.name, c.v, c.iv)
		}
	}
	if r.AUC < 0.8 || r.AUC > 0.9 {
		t.Errorf("macro AUC %v, want about 0.86 (separation 1.5 sd)", r.AUC)
	}
}

func TestMultiLabelErrors(t *testing.T) {
	if _, err := EvaluateMultiLabel([][]bool{{true}, {false, true}}, [][]float64{{0.5, 0.5}, {0.5, 0.5}}, nil, Options{}); err == nil {
		t.Error("short label row: no error")
	}
	if _, err := EvaluateMultiLabel([][]bool{{true, true}}, [][]float64{{1.5, 0.5}}, nil, Options{}); err == nil {
		t.Error("probability 1.5: no error")
	}
}
