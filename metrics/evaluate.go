package metrics

import (
	"fmt"
	"math"
	"strconv"
)

// probability clip for log-likelihoods, as scikit-learn's log_loss.
const eps = 1e-15

// Evaluate measures multi-class predictions: labels[i] is the true class of
// sample i (0 <= labels[i] < len(classes)) and probs[i] its predicted
// probabilities, one per class, summing to 1. The predicted class is the
// argmax (the first, on ties). classes names the columns; nil names them
// "0", "1", ... It returns an error, naming the sample, for input a caller
// can get wrong: no samples, rows of the wrong length, labels out of range,
// probabilities outside [0, 1] or rows not summing to 1 (logits passed by
// mistake).
func Evaluate(labels []int, probs [][]float64, classes []string, o Options) (*Result, error) {
	o = o.withDefaults()
	k, classes, err := checkShape(len(labels), probs, classes)
	if err != nil {
		return nil, err
	}
	for i, row := range probs {
		if labels[i] < 0 || labels[i] >= k {
			return nil, fmt.Errorf("metrics: sample %d: label %d out of range [0, %d)", i, labels[i], k)
		}
		var s float64
		for j, p := range row {
			if !(p >= 0 && p <= 1) {
				return nil, fmt.Errorf("metrics: sample %d: probability %g of class %q outside [0, 1]", i, p, classes[j])
			}
			s += p
		}
		if math.Abs(s-1) > 1e-3 {
			return nil, fmt.Errorf("metrics: sample %d: probabilities sum to %g, not 1 (logits instead of softmax output?)", i, s)
		}
	}
	d := newMultiClass(labels, probs, k, o.Bins)
	n := len(labels)
	r := &Result{
		Task: MultiClass, N: n, Classes: classes,
		SubsetAccuracy: math.NaN(), SubsetAccuracyCI: noInterval,
		HammingLoss: math.NaN(), HammingLossCI: noInterval, Threshold: math.NaN(),
		Resamples: o.Resamples, Level: o.Level, Seed: o.Seed,
	}
	m := 5 + 4*k
	point := make([]float64, m)
	ones := make([]float64, n)
	for i := range ones {
		ones[i] = 1
	}
	d.stats()(ones, point)
	ci := bootstrap(n, m, o, d.stats)
	r.Accuracy, r.AccuracyCI = point[0], edgeInterval(point[0], n, o.Level, ci[0])
	r.BalancedAccuracy, r.BalancedAccuracyCI = point[1], ci[1]
	r.MacroF1, r.MacroF1CI = point[2], ci[2]
	r.AUC, r.AUCCI = point[3], ci[3]
	r.ECE, r.ECECI = point[4], ci[4]

	r.Confusion = make([][]int, k)
	for c := range r.Confusion {
		r.Confusion[c] = make([]int, k)
	}
	for i, y := range labels {
		r.Confusion[y][d.pred[i]]++
		r.NLL -= math.Log(max(probs[i][y], eps))
	}
	r.NLL /= float64(n)

	var wf1, wsum float64
	for c := range k {
		j := 5 + 4*c
		cr := ClassResult{
			Name:      classes[c],
			Precision: point[j], PrecisionCI: ci[j],
			Recall: point[j+1], RecallCI: ci[j+1],
			F1: point[j+2], F1CI: ci[j+2],
			AUC: point[j+3], AUCCI: ci[j+3],
		}
		for t := range k {
			cr.Support += r.Confusion[c][t]
			cr.Predicted += r.Confusion[t][c]
		}
		cr.PrecisionCI = edgeInterval(cr.Precision, cr.Predicted, o.Level, cr.PrecisionCI)
		cr.RecallCI = edgeInterval(cr.Recall, cr.Support, o.Level, cr.RecallCI)
		if o.ROCPoints > 0 {
			cr.ROC = d.ranks[c].roc(o.ROCPoints)
		}
		if cr.Support > 0 {
			wf1 += float64(cr.Support) * cr.F1
			wsum += float64(cr.Support)
		}
		r.PerClass = append(r.PerClass, cr)
	}
	r.WeightedF1 = wf1 / wsum
	r.Reliability = d.reliability()
	return r, nil
}

// checkShape checks that probs has n rows of one length k >= 2 matching
// classes, and names the classes when classes is nil.
func checkShape(n int, probs [][]float64, classes []string) (int, []string, error) {
	if n == 0 {
		return 0, nil, fmt.Errorf("metrics: no samples")
	}
	if len(probs) != n {
		return 0, nil, fmt.Errorf("metrics: %d labels but %d rows of probabilities", n, len(probs))
	}
	k := len(probs[0])
	if classes == nil {
		for c := range k {
			classes = append(classes, strconv.Itoa(c))
		}
	}
	if len(classes) < 2 {
		return 0, nil, fmt.Errorf("metrics: %d classes; need at least 2", len(classes))
	}
	for i, row := range probs {
		if len(row) != len(classes) {
			return 0, nil, fmt.Errorf("metrics: sample %d: %d probabilities for %d classes", i, len(row), len(classes))
		}
	}
	return len(classes), classes, nil
}

// Rows splits a flat row-major slice of n*k probabilities (as a [N, K]
// tensor holds them) into n rows of k float64 values. It panics if len(flat)
// is not a multiple of k.
func Rows(flat []float32, k int) [][]float64 {
	if k <= 0 || len(flat)%k != 0 {
		panic(fmt.Sprintf("metrics: Rows: %d values are not rows of %d", len(flat), k))
	}
	n := len(flat) / k
	all := make([]float64, len(flat))
	rows := make([][]float64, n)
	for i := range rows {
		rows[i] = all[i*k : (i+1)*k : (i+1)*k]
		for j := range k {
			rows[i][j] = float64(flat[i*k+j])
		}
	}
	return rows
}

// multiClass holds what every resample of a multi-class evaluation reuses.
type multiClass struct {
	k, bins int
	label   []int
	pred    []int
	conf    []float64 // highest probability
	bin     []int     // calibration bin of conf
	ranks   []*rankOrder
}

func newMultiClass(labels []int, probs [][]float64, k, bins int) *multiClass {
	n := len(labels)
	d := &multiClass{k: k, bins: bins, label: labels, pred: make([]int, n), conf: make([]float64, n), bin: make([]int, n)}
	for i, row := range probs {
		best := 0
		for c, p := range row {
			if p > row[best] {
				best = c
			}
		}
		d.pred[i], d.conf[i] = best, row[best]
		d.bin[i] = binOf(row[best], bins)
	}
	for c := range k {
		col := make([]float64, n)
		for i, row := range probs {
			col[i] = row[c]
		}
		d.ranks = append(d.ranks, newRankOrder(col, func(i int) bool { return labels[i] == c }))
	}
	return d
}

// binOf returns the bin b, of bins equal-width bins, with b/bins < c <= (b+1)/bins
// (c = 0 goes to bin 0), matching Guo et al.'s reference code.
func binOf(c float64, bins int) int {
	B := float64(bins)
	b := min(max(int(math.Ceil(c*B))-1, 0), bins-1)
	for b > 0 && c <= float64(b)/B {
		b--
	}
	for b < bins-1 && c > float64(b+1)/B {
		b++
	}
	return b
}

// stats returns a statFunc writing, for sample weights w: accuracy,
// balanced accuracy, macro F1, macro AUC, ECE, then precision, recall, F1
// and AUC of each class.
func (d *multiClass) stats() statFunc {
	k := d.k
	tp, support, predicted := make([]float64, k), make([]float64, k), make([]float64, k)
	rec, f1, auc := make([]float64, k), make([]float64, k), make([]float64, k)
	bw, bconf, bcorr := make([]float64, d.bins), make([]float64, d.bins), make([]float64, d.bins)
	return func(w []float64, out []float64) {
		clear(tp)
		clear(support)
		clear(predicted)
		clear(bw)
		clear(bconf)
		clear(bcorr)
		var total, correct float64
		for i, wt := range w {
			if wt == 0 {
				continue
			}
			y, p := d.label[i], d.pred[i]
			total += wt
			support[y] += wt
			predicted[p] += wt
			b := d.bin[i]
			bw[b] += wt
			bconf[b] += wt * d.conf[i]
			if y == p {
				tp[y] += wt
				correct += wt
				bcorr[b] += wt
			}
		}
		var ece float64
		for b := range bw {
			ece += math.Abs(bcorr[b] - bconf[b])
		}
		for c := range k {
			j := 5 + 4*c
			out[j] = ratio(tp[c], predicted[c])
			rec[c] = ratio(tp[c], support[c])
			out[j+1] = rec[c]
			f1[c] = ratio(2*tp[c], support[c]+predicted[c])
			out[j+2] = f1[c]
			auc[c] = d.ranks[c].auc(w)
			out[j+3] = auc[c]
		}
		out[0] = correct / total
		out[1] = nanMean(rec)
		out[2] = nanMean(f1)
		out[3] = nanMean(auc)
		out[4] = ece / total
	}
}

// reliability returns the calibration bins of the whole set.
func (d *multiClass) reliability() []Bin {
	bins := make([]Bin, d.bins)
	corr := make([]float64, d.bins)
	for b := range bins {
		bins[b].Lo, bins[b].Hi = float64(b)/float64(d.bins), float64(b+1)/float64(d.bins)
	}
	for i, b := range d.bin {
		bins[b].Count++
		bins[b].Confidence += d.conf[i]
		if d.pred[i] == d.label[i] {
			corr[b]++
		}
	}
	for b := range bins {
		cnt := float64(bins[b].Count)
		bins[b].Confidence = ratio(bins[b].Confidence, cnt)
		bins[b].Accuracy = ratio(corr[b], cnt)
	}
	return bins
}
