package metrics

import (
	"math"
	"math/rand/v2"
	"testing"
)

// synth returns n samples of k classes whose probabilities come from a
// softmax of noisy logits with the true class raised by signal.
func synth(n, k int, signal float64, seed uint64) ([]int, [][]float64) {
	rng := rand.New(rand.NewPCG(seed, 7))
	labels := make([]int, n)
	probs := make([][]float64, n)
	for i := range n {
		y := rng.IntN(k)
		labels[i] = y
		row := make([]float64, k)
		var s float64
		for c := range k {
			z := rng.NormFloat64()
			if c == y {
				z += signal
			}
			row[c] = math.Exp(z)
			s += row[c]
		}
		for c := range row {
			row[c] /= s
		}
		probs[i] = row
	}
	return labels, probs
}

func near(a, b float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	return math.Abs(a-b) <= 1e-12*math.Max(1, math.Abs(b))
}

// TestEvaluateHand checks every point estimate on six samples worked out by
// hand. Class 2 is never predicted: its precision is undefined (NaN) and its
// F1 is 0, which still counts in the macro mean.
func TestEvaluateHand(t *testing.T) {
	labels := []int{0, 0, 0, 1, 1, 2}
	probs := [][]float64{
		{0.7, 0.2, 0.1}, // 0 ok
		{0.6, 0.3, 0.1}, // 0 ok
		{0.2, 0.7, 0.1}, // 1, true 0
		{0.1, 0.8, 0.1}, // 1 ok
		{0.5, 0.4, 0.1}, // 0, true 1
		{0.4, 0.4, 0.2}, // 0 (first of a tie), true 2
	}
	r, err := Evaluate(labels, probs, []string{"a", "b", "c"}, Options{Resamples: -1})
	if err != nil {
		t.Fatal(err)
	}
	nan := math.NaN()
	checks := []struct {
		name      string
		got, want float64
	}{
		{"accuracy", r.Accuracy, 0.5},
		{"balanced accuracy", r.BalancedAccuracy, (2.0/3 + 0.5 + 0) / 3},
		{"macro F1", r.MacroF1, (4.0/7 + 0.5 + 0) / 3},
		{"weighted F1", r.WeightedF1, (3*4.0/7 + 2*0.5) / 6},
		{"precision a", r.PerClass[0].Precision, 0.5},
		{"recall a", r.PerClass[0].Recall, 2.0 / 3},
		{"precision c", r.PerClass[2].Precision, nan},
		{"recall c", r.PerClass[2].Recall, 0},
		{"F1 c", r.PerClass[2].F1, 0},
		{"AUC a", r.PerClass[0].AUC, 7.0 / 9},
		{"AUC b (one tie)", r.PerClass[1].AUC, 6.5 / 8},
		{"AUC c", r.PerClass[2].AUC, 1},
		{"macro AUC", r.AUC, (7.0/9 + 6.5/8 + 1) / 3},
		{"ECE", r.ECE, (0.4 + 0.4 + 0.2 + 0.5 + 0.4) / 6},
		{"NLL", r.NLL, -(math.Log(0.7) + math.Log(0.6) + math.Log(0.2) + math.Log(0.8) + math.Log(0.4) + math.Log(0.2)) / 6},
	}
	for _, c := range checks {
		if !near(c.got, c.want) {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	wantConf := [][]int{{2, 1, 0}, {1, 1, 0}, {1, 0, 0}}
	for i := range wantConf {
		for j := range wantConf[i] {
			if r.Confusion[i][j] != wantConf[i][j] {
				t.Fatalf("confusion = %v, want %v", r.Confusion, wantConf)
			}
		}
	}
	sup := []int{3, 2, 1}
	pred := []int{4, 2, 0}
	for c, cr := range r.PerClass {
		if cr.Support != sup[c] || cr.Predicted != pred[c] {
			t.Errorf("class %d support/predicted = %d/%d, want %d/%d", c, cr.Support, cr.Predicted, sup[c], pred[c])
		}
	}
	if r.AccuracyCI.Valid() {
		t.Errorf("no resamples asked, got interval %v", r.AccuracyCI)
	}
}

// TestReliability checks the calibration bins of the hand example above:
// counts land in (lo, hi] bins, including confidences on a bin edge.
func TestReliability(t *testing.T) {
	labels := []int{0, 0, 0, 1, 1, 2}
	probs := [][]float64{{0.7, 0.2, 0.1}, {0.6, 0.3, 0.1}, {0.2, 0.7, 0.1}, {0.1, 0.8, 0.1}, {0.5, 0.4, 0.1}, {0.4, 0.4, 0.2}}
	r, err := Evaluate(labels, probs, nil, Options{Resamples: -1})
	if err != nil {
		t.Fatal(err)
	}
	want := map[int][3]float64{ // bin -> count, mean confidence, accuracy
		5: {1, 0.4, 0}, 7: {1, 0.5, 0}, 8: {1, 0.6, 1}, 10: {2, 0.7, 0.5}, 11: {1, 0.8, 1},
	}
	if len(r.Reliability) != 15 {
		t.Fatalf("%d bins, want 15", len(r.Reliability))
	}
	var ece float64
	for b, bin := range r.Reliability {
		w, ok := want[b]
		if !ok {
			if bin.Count != 0 || !math.IsNaN(bin.Accuracy) {
				t.Errorf("bin %d = %+v, want empty", b, bin)
			}
			continue
		}
		if float64(bin.Count) != w[0] || !near(bin.Confidence, w[1]) || !near(bin.Accuracy, w[2]) {
			t.Errorf("bin %d = %+v, want count %v confidence %v accuracy %v", b, bin, w[0], w[1], w[2])
		}
		ece += float64(bin.Count) / 6 * math.Abs(bin.Accuracy-bin.Confidence)
	}
	if !near(ece, r.ECE) {
		t.Errorf("ECE from bins %v, ECE %v", ece, r.ECE)
	}
}

func TestBinOf(t *testing.T) {
	for _, c := range []struct {
		conf float64
		want int
	}{
		{0, 0}, {1e-9, 0}, {1.0 / 15, 0}, {0.2, 2}, {0.2000001, 3}, {0.6, 8}, {0.8, 11}, {0.99, 14}, {1, 14},
	} {
		if got := binOf(c.conf, 15); got != c.want {
			t.Errorf("binOf(%v) = %d, want %d", c.conf, got, c.want)
		}
	}
}

// TestCalibratedECE: when the labels are drawn from the predicted
// probabilities themselves, ECE is small; when every prediction claims
// certainty but is right half the time, ECE is 0.5.
func TestCalibratedECE(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	n := 20000
	labels := make([]int, n)
	probs := make([][]float64, n)
	for i := range n {
		p := 0.5 + 0.5*rng.Float64()
		probs[i] = []float64{p, 1 - p}
		if rng.Float64() >= p {
			labels[i] = 1
		}
	}
	r, err := Evaluate(labels, probs, nil, Options{Resamples: -1})
	if err != nil {
		t.Fatal(err)
	}
	if r.ECE > 0.02 {
		t.Errorf("calibrated predictions: ECE %v, want < 0.02", r.ECE)
	}
	for i := range n {
		probs[i] = []float64{1, 0}
		labels[i] = i % 2
	}
	r, err = Evaluate(labels, probs, nil, Options{Resamples: -1})
	if err != nil {
		t.Fatal(err)
	}
	if !near(r.ECE, 0.5) {
		t.Errorf("overconfident predictions: ECE %v, want 0.5", r.ECE)
	}
}

// bruteAUC counts weighted positive-negative pairs directly.
func bruteAUC(score []float64, pos []bool, w []float64) float64 {
	var num, P, N float64
	for i := range score {
		if pos[i] {
			P += w[i]
		} else {
			N += w[i]
		}
		for j := range score {
			if !pos[i] || pos[j] {
				continue
			}
			switch {
			case score[i] > score[j]:
				num += w[i] * w[j]
			case score[i] == score[j]:
				num += 0.5 * w[i] * w[j]
			}
		}
	}
	return num / (P * N)
}

// TestAUCTies compares the rank-based AUC with a pairwise count, on scores
// rounded to few values so ties are common, with unit and bootstrap weights.
func TestAUCTies(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for trial := range 50 {
		n := 2 + rng.IntN(60)
		levels := 1 + rng.IntN(6)
		score := make([]float64, n)
		pos := make([]bool, n)
		w := make([]float64, n)
		ones := make([]float64, n)
		for i := range n {
			pos[i] = rng.IntN(3) == 0
			score[i] = float64(rng.IntN(levels)) / float64(levels)
			if pos[i] {
				score[i] = math.Min(1, score[i]+0.2)
			}
			ones[i] = 1
		}
		pos[0], pos[1] = true, false
		for range n {
			w[rng.IntN(n)]++
		}
		w[0]++
		w[1]++
		ro := newRankOrder(score, func(i int) bool { return pos[i] })
		if got, want := ro.auc(nil), bruteAUC(score, pos, ones); !near(got, want) {
			t.Errorf("trial %d: AUC %v, pairwise %v", trial, got, want)
		}
		if got, want := ro.auc(w), bruteAUC(score, pos, w); !near(got, want) {
			t.Errorf("trial %d: weighted AUC %v, pairwise %v", trial, got, want)
		}
		// The full ROC curve's trapezoid area is the same AUC.
		c := ro.roc(0)
		var area float64
		for i := 1; i < len(c.FPR); i++ {
			area += (c.FPR[i] - c.FPR[i-1]) * (c.TPR[i] + c.TPR[i-1]) / 2
		}
		if !near(area, ro.auc(nil)) {
			t.Errorf("trial %d: ROC area %v, AUC %v", trial, area, ro.auc(nil))
		}
	}
	if a := newRankOrder([]float64{0.1, 0.2}, func(int) bool { return true }).auc(nil); !math.IsNaN(a) {
		t.Errorf("AUC without negatives = %v, want NaN", a)
	}
}

func TestROCThinning(t *testing.T) {
	labels, probs := synth(5000, 4, 1.0, 1)
	r, err := Evaluate(labels, probs, nil, Options{Resamples: -1, ROCPoints: 100})
	if err != nil {
		t.Fatal(err)
	}
	for _, cr := range r.PerClass {
		c := cr.ROC
		n := len(c.FPR)
		if n < 20 || n > 101 || len(c.TPR) != n || len(c.Threshold) != n {
			t.Fatalf("class %s: %d points (tpr %d, thresholds %d), want 20..101", cr.Name, n, len(c.TPR), len(c.Threshold))
		}
		if c.FPR[0] != 0 || c.TPR[0] != 0 || c.FPR[n-1] != 1 || c.TPR[n-1] != 1 {
			t.Errorf("class %s: ends (%v,%v) (%v,%v)", cr.Name, c.FPR[0], c.TPR[0], c.FPR[n-1], c.TPR[n-1])
		}
		var area float64
		for i := 1; i < n; i++ {
			if c.FPR[i] < c.FPR[i-1] || c.TPR[i] < c.TPR[i-1] || c.Threshold[i] >= c.Threshold[i-1] {
				t.Fatalf("class %s: curve not monotone at %d", cr.Name, i)
			}
			area += (c.FPR[i] - c.FPR[i-1]) * (c.TPR[i] + c.TPR[i-1]) / 2
		}
		if math.Abs(area-cr.AUC) > 0.01 {
			t.Errorf("class %s: thinned curve area %v, AUC %v", cr.Name, area, cr.AUC)
		}
	}
}

func TestBootstrap(t *testing.T) {
	width := func(iv Interval) float64 { return iv[1] - iv[0] }
	var prev *Result
	for _, n := range []int{300, 3000} {
		labels, probs := synth(n, 5, 2.0, 11)
		r, err := Evaluate(labels, probs, nil, Options{Resamples: 250, Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			name string
			v    float64
			iv   Interval
		}{
			{"accuracy", r.Accuracy, r.AccuracyCI},
			{"balanced accuracy", r.BalancedAccuracy, r.BalancedAccuracyCI},
			{"macro F1", r.MacroF1, r.MacroF1CI},
			{"AUC", r.AUC, r.AUCCI},
			{"ECE", r.ECE, r.ECECI},
			{"recall 0", r.PerClass[0].Recall, r.PerClass[0].RecallCI},
			{"precision 0", r.PerClass[0].Precision, r.PerClass[0].PrecisionCI},
			{"AUC 0", r.PerClass[0].AUC, r.PerClass[0].AUCCI},
		} {
			if !c.iv.Valid() || c.iv[0] >= c.iv[1] {
				t.Errorf("n=%d %s: interval %v", n, c.name, c.iv)
			}
			// ECE is biased upwards under resampling, so its interval
			// need not cover the estimate; the others must.
			if c.name != "ECE" && !c.iv.Contains(c.v) {
				t.Errorf("n=%d %s: %v outside %v", n, c.name, c.v, c.iv)
			}
		}
		if prev != nil {
			if width(r.AccuracyCI) >= 0.6*width(prev.AccuracyCI) {
				t.Errorf("accuracy interval %v at n=%d not much narrower than %v at n=%d", r.AccuracyCI, n, prev.AccuracyCI, prev.N)
			}
			if width(r.AUCCI) >= 0.6*width(prev.AUCCI) {
				t.Errorf("AUC interval %v at n=%d not much narrower than %v at n=%d", r.AUCCI, n, prev.AUCCI, prev.N)
			}
		}
		prev = r
	}
}

// TestDeterminism: the same seed gives the same intervals whatever the
// number of workers; another seed gives different ones.
func TestDeterminism(t *testing.T) {
	labels, probs := synth(500, 3, 1.5, 2)
	run := func(seed uint64, workers int) *Result {
		r, err := Evaluate(labels, probs, nil, Options{Resamples: 200, Seed: seed, Workers: workers})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	a, b, c := run(9, 1), run(9, 4), run(10, 2)
	if a.AccuracyCI != b.AccuracyCI || a.AUCCI != b.AUCCI || a.PerClass[2].RecallCI != b.PerClass[2].RecallCI {
		t.Errorf("seed 9: 1 worker %v %v, 4 workers %v %v", a.AccuracyCI, a.AUCCI, b.AccuracyCI, b.AUCCI)
	}
	if a.AUCCI == c.AUCCI {
		t.Errorf("seeds 9 and 10 gave the same AUC interval %v", a.AUCCI)
	}
}

func TestQuantile(t *testing.T) {
	x := []float64{1, 2, 3, 4, 5}
	for _, c := range []struct{ q, want float64 }{{0, 1}, {0.25, 2}, {0.1, 1.4}, {0.5, 3}, {0.975, 4.9}, {1, 5}} {
		if got := quantile(x, c.q); !near(got, c.want) {
			t.Errorf("quantile(%v) = %v, want %v", c.q, got, c.want)
		}
	}
}

func TestEvaluateErrors(t *testing.T) {
	good := [][]float64{{0.5, 0.5}, {0.9, 0.1}}
	for _, c := range []struct {
		name    string
		labels  []int
		probs   [][]float64
		classes []string
	}{
		{"empty", nil, nil, nil},
		{"row count", []int{0}, good, nil},
		{"short row", []int{0, 1}, [][]float64{{1}, {0.9, 0.1}}, nil},
		{"names", []int{0, 1}, good, []string{"a", "b", "c"}},
		{"one class", []int{0, 0}, [][]float64{{1}, {1}}, nil},
		{"label range", []int{0, 2}, good, nil},
		{"negative label", []int{-1, 0}, good, nil},
		{"logits", []int{0, 1}, [][]float64{{2.5, -1}, {0.9, 0.1}}, nil},
		{"NaN", []int{0, 1}, [][]float64{{math.NaN(), 0.5}, {0.9, 0.1}}, nil},
		{"sum", []int{0, 1}, [][]float64{{0.5, 0.6}, {0.9, 0.1}}, nil},
	} {
		if r, err := Evaluate(c.labels, c.probs, c.classes, Options{}); err == nil || r != nil {
			t.Errorf("%s: no error", c.name)
		} else if err.Error()[:9] != "metrics: " {
			t.Errorf("%s: error %q lacks the package prefix", c.name, err)
		}
	}
}

func TestRows(t *testing.T) {
	rows := Rows([]float32{0.25, 0.75, 1, 0}, 2)
	if len(rows) != 2 || rows[0][1] != 0.75 || rows[1][0] != 1 || cap(rows[0]) != 2 {
		t.Errorf("Rows = %v", rows)
	}
}

// TestEdgeInterval: a class recalled perfectly gets the exact interval, not
// the bootstrap's [1, 1]; 244 of 244 at 95% gives a lower end of 0.985.
func TestEdgeInterval(t *testing.T) {
	n := 244
	labels := make([]int, 2*n)
	probs := make([][]float64, 2*n)
	for i := range labels {
		labels[i] = i % 2
		probs[i] = []float64{0.9, 0.1}
		if i%2 == 1 {
			probs[i] = []float64{0.1, 0.9}
		}
	}
	probs[1] = []float64{0.6, 0.4} // one class-1 image called class 0
	r, err := Evaluate(labels, probs, nil, Options{Resamples: 100})
	if err != nil {
		t.Fatal(err)
	}
	c0 := r.PerClass[0]
	if c0.Recall != 1 || math.Abs(c0.RecallCI[0]-0.98500) > 5e-5 || c0.RecallCI[1] != 1 {
		t.Errorf("recall %v interval %v, want 1 in [0.98500, 1]", c0.Recall, c0.RecallCI)
	}
	c1 := r.PerClass[1]
	if c1.Precision != 1 || c1.PrecisionCI[0] >= 1 || c1.Recall == 1 || !c1.RecallCI.Contains(c1.Recall) {
		t.Errorf("class 1 precision %v %v, recall %v %v", c1.Precision, c1.PrecisionCI, c1.Recall, c1.RecallCI)
	}
	if iv := edgeInterval(0, 10, 0.95, Interval{0, 0}); math.Abs(iv[1]-0.30850) > 5e-5 {
		t.Errorf("0 of 10: %v, want [0, 0.30850]", iv)
	}
}
