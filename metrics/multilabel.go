package metrics

import (
	"fmt"
	"math"
)

// EvaluateMultiLabel measures multi-label predictions: labels[i][c] says
// whether label c applies to sample i and probs[i][c] is its predicted
// probability (a sigmoid output; rows need not sum to 1). A label is
// predicted when its probability exceeds o.Threshold (0.5 by default, as
// MedMNIST's evaluator). Per label it gives support, precision, recall, F1
// and ROC AUC; overall macro AUC, macro F1, subset accuracy and Hamming
// loss, with bootstrap intervals. Errors are as for Evaluate.
func EvaluateMultiLabel(labels [][]bool, probs [][]float64, names []string, o Options) (*Result, error) {
	o = o.withDefaults()
	k, names, err := checkShape(len(labels), probs, names)
	if err != nil {
		return nil, err
	}
	n := len(labels)
	for i, row := range probs {
		if len(labels[i]) != k {
			return nil, fmt.Errorf("metrics: sample %d: %d labels for %d names", i, len(labels[i]), k)
		}
		for j, p := range row {
			if !(p >= 0 && p <= 1) {
				return nil, fmt.Errorf("metrics: sample %d: probability %g of label %q outside [0, 1]", i, p, names[j])
			}
		}
	}
	d := &multiLabel{k: k, labels: labels, pred: make([][]bool, n), wrong: make([]int, n)}
	nan := math.NaN()
	r := &Result{
		Task: MultiLabel, N: n, Classes: names, Threshold: o.Threshold,
		Accuracy: nan, AccuracyCI: noInterval, BalancedAccuracy: nan, BalancedAccuracyCI: noInterval,
		WeightedF1: nan, ECE: nan, ECECI: noInterval,
		Resamples: o.Resamples, Level: o.Level, Seed: o.Seed,
	}
	for i, row := range probs {
		d.pred[i] = make([]bool, k)
		for c, p := range row {
			d.pred[i][c] = p > o.Threshold
			if d.pred[i][c] != labels[i][c] {
				d.wrong[i]++
			}
			q := p
			if !labels[i][c] {
				q = 1 - p
			}
			r.NLL -= math.Log(max(q, eps))
		}
	}
	r.NLL /= float64(n * k)
	for c := range k {
		col := make([]float64, n)
		for i, row := range probs {
			col[i] = row[c]
		}
		d.ranks = append(d.ranks, newRankOrder(col, func(i int) bool { return labels[i][c] }))
	}
	m := 4 + 4*k
	point := make([]float64, m)
	ones := make([]float64, n)
	for i := range ones {
		ones[i] = 1
	}
	d.stats()(ones, point)
	ci := bootstrap(n, m, o, d.stats)
	r.SubsetAccuracy, r.SubsetAccuracyCI = point[0], edgeInterval(point[0], n, o.Level, ci[0])
	r.HammingLoss, r.HammingLossCI = point[1], ci[1]
	r.MacroF1, r.MacroF1CI = point[2], ci[2]
	r.AUC, r.AUCCI = point[3], ci[3]
	for c := range k {
		j := 4 + 4*c
		cr := ClassResult{
			Name:      names[c],
			Precision: point[j], PrecisionCI: ci[j],
			Recall: point[j+1], RecallCI: ci[j+1],
			F1: point[j+2], F1CI: ci[j+2],
			AUC: point[j+3], AUCCI: ci[j+3],
		}
		for i := range n {
			if labels[i][c] {
				cr.Support++
			}
			if d.pred[i][c] {
				cr.Predicted++
			}
		}
		cr.PrecisionCI = edgeInterval(cr.Precision, cr.Predicted, o.Level, cr.PrecisionCI)
		cr.RecallCI = edgeInterval(cr.Recall, cr.Support, o.Level, cr.RecallCI)
		if o.ROCPoints > 0 {
			cr.ROC = d.ranks[c].roc(o.ROCPoints)
		}
		r.PerClass = append(r.PerClass, cr)
	}
	return r, nil
}

// multiLabel holds what every resample of a multi-label evaluation reuses.
type multiLabel struct {
	k      int
	labels [][]bool
	pred   [][]bool
	wrong  []int // wrong label decisions per sample
	ranks  []*rankOrder
}

// stats returns a statFunc writing, for sample weights w: subset accuracy,
// Hamming loss, macro F1, macro AUC, then precision, recall, F1 and AUC of
// each label.
func (d *multiLabel) stats() statFunc {
	k := d.k
	tp, support, predicted := make([]float64, k), make([]float64, k), make([]float64, k)
	f1, auc := make([]float64, k), make([]float64, k)
	return func(w []float64, out []float64) {
		clear(tp)
		clear(support)
		clear(predicted)
		var total, exact, wrong float64
		for i, wt := range w {
			if wt == 0 {
				continue
			}
			total += wt
			wrong += wt * float64(d.wrong[i])
			if d.wrong[i] == 0 {
				exact += wt
			}
			for c, y := range d.labels[i] {
				p := d.pred[i][c]
				if y {
					support[c] += wt
				}
				if p {
					predicted[c] += wt
				}
				if y && p {
					tp[c] += wt
				}
			}
		}
		for c := range k {
			j := 4 + 4*c
			out[j] = ratio(tp[c], predicted[c])
			out[j+1] = ratio(tp[c], support[c])
			f1[c] = ratio(2*tp[c], support[c]+predicted[c])
			out[j+2] = f1[c]
			auc[c] = d.ranks[c].auc(w)
			out[j+3] = auc[c]
		}
		out[0] = exact / total
		out[1] = wrong / (total * float64(k))
		out[2] = nanMean(f1)
		out[3] = nanMean(auc)
	}
}
