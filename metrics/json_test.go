package metrics

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
)

func TestJSONKeys(t *testing.T) {
	labels, probs := synth(400, 3, 1.5, 4)
	labels[0] = 2
	r, err := Evaluate(labels, probs, []string{"basophil", "eosinophil", "neutrophil"}, Options{Resamples: 50})
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"task", "n", "classes", "accuracy", "accuracy_ci", "balanced_accuracy", "balanced_accuracy_ci",
		"macro_f1", "macro_f1_ci", "weighted_f1", "auc", "auc_ci", "ece", "ece_ci", "nll", "per_class", "confusion", "reliability", "bootstrap"} {
		if _, ok := m[k]; !ok {
			t.Errorf("key %q missing", k)
		}
	}
	for _, k := range []string{"subset_accuracy", "hamming_loss", "threshold"} {
		if _, ok := m[k]; ok {
			t.Errorf("multi-label key %q in a multi-class result", k)
		}
	}
	if ci, ok := m["accuracy_ci"].([]any); !ok || len(ci) != 2 {
		t.Errorf("accuracy_ci = %v, want [lo, hi]", m["accuracy_ci"])
	}
	pc := m["per_class"].([]any)[0].(map[string]any)
	for _, k := range []string{"class", "support", "precision", "precision_ci", "recall", "recall_ci", "f1", "auc", "auc_ci", "roc"} {
		if _, ok := pc[k]; !ok {
			t.Errorf("per_class key %q missing", k)
		}
	}

	var back Result
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.Accuracy != r.Accuracy || back.AUCCI != r.AUCCI || back.PerClass[1].RecallCI != r.PerClass[1].RecallCI ||
		back.Confusion[2][1] != r.Confusion[2][1] || len(back.PerClass[0].ROC.FPR) != len(r.PerClass[0].ROC.FPR) ||
		back.Reliability[14].Count != r.Reliability[14].Count || !math.IsNaN(back.HammingLoss) {
		t.Errorf("round trip changed the result:\n%+v\n%+v", r, back)
	}
}

// TestJSONNaN: undefined measures become null instead of failing the encoder.
func TestJSONNaN(t *testing.T) {
	r, err := Evaluate([]int{0, 0}, [][]float64{{0.9, 0.1}, {0.8, 0.2}}, nil, Options{Resamples: 20})
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	if !strings.Contains(s, `"auc":null`) || !strings.Contains(s, `"precision":null`) {
		t.Errorf("want null AUC and precision for a class never seen: %s", s)
	}
	ml, err := EvaluateMultiLabel([][]bool{{true, false}, {false, false}}, [][]float64{{0.9, 0.1}, {0.2, 0.3}}, nil, Options{Resamples: 20})
	if err != nil {
		t.Fatal(err)
	}
	b, err = json.Marshal(ml)
	if err != nil {
		t.Fatal(err)
	}
	if s := string(b); !strings.Contains(s, `"hamming_loss":0`) || strings.Contains(s, `"accuracy"`) || strings.Contains(s, `"ece"`) {
		t.Errorf("multi-label JSON keys: %s", s)
	}
}
