package train

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/deepscope/deepscope/data"
	"github.com/deepscope/deepscope/nn"
	"github.com/deepscope/deepscope/tensor"
)

// MissingGroup is the group of training images that have no value in the
// Config.BalanceBy column.
const MissingGroup = "(missing)"

// GroupWeights returns the loss weight of each group of the column col of
// ds's items (a manifest's extra column, such as site or scanner): a group
// of n_g of the N images gets N / (G·n_g), so that each of the G groups
// adds the same total weight to an epoch's loss and the mean weight of an
// image stays 1 (the learning rate keeps its meaning). Images without a
// value form the group MissingGroup. A column no item carries is an
// error naming the columns there are.
func GroupWeights(ds *data.Dataset, col string) (map[string]float64, error) {
	counts := map[string]int{}
	have := map[string]bool{}
	for _, it := range ds.Items {
		for k := range it.Meta {
			have[k] = true
		}
	}
	if !have[col] {
		cols := make([]string, 0, len(have))
		for k := range have {
			cols = append(cols, k)
		}
		sort.Strings(cols)
		if len(cols) == 0 {
			return nil, fmt.Errorf("train: balance_by %q: %s has no columns besides path, label and split", col, ds.Source)
		}
		return nil, fmt.Errorf("train: balance_by %q: no such column in %s (columns: %s)", col, ds.Source, strings.Join(cols, ", "))
	}
	for _, it := range ds.Items {
		counts[groupOf(it, col)]++
	}
	w := make(map[string]float64, len(counts))
	for g, n := range counts {
		w[g] = float64(len(ds.Items)) / (float64(len(counts)) * float64(n))
	}
	return w, nil
}

func groupOf(it data.Item, col string) string {
	if v := it.Meta[col]; v != "" {
		return v
	}
	return MissingGroup
}

// groupBalance reweights the cross-entropy of each training image by its
// group's weight. For image n of class y in group g, with weight s_g, class
// weights w (nn.CrossEntropy.Weight; all 1 when nil) and label smoothing ε,
// the batch loss is
//
//	L = Σₙ s_g(n)·ℓₙ / Σₙ w[yₙ],  ℓₙ = (1−ε)·w[yₙ]·(−log pₙ[yₙ]) + ε/C·Σ_c w[c]·(−log pₙ[c])
//
// that is, the group weight multiplies each image's whole term, smoothing
// included, and the normaliser stays the cross-entropy's own (the batch
// size when there are no class weights). Since the weights average 1 over
// the training set, a batch's expected loss is the group-balanced risk and
// the step size is unchanged; the two kinds of weight multiply.
type groupBalance struct {
	column  string
	weights []float32 // by training item index
	logp    []float32 // scratch: log-softmax of the batch
}

// newGroupBalance assigns each item of the training set ds its group's
// weight from weights (as GroupWeights computed them, perhaps in an earlier
// process of the same run).
func newGroupBalance(ds *data.Dataset, col string, weights map[string]float64) (*groupBalance, error) {
	b := &groupBalance{column: col, weights: make([]float32, len(ds.Items))}
	for i, it := range ds.Items {
		w, ok := weights[groupOf(it, col)]
		if !ok {
			return nil, fmt.Errorf("train: %s: group %q of column %q has no weight in the run's group_weights", ds.Name(i), groupOf(it, col), col)
		}
		b.weights[i] = float32(w)
	}
	return b, nil
}

// reweight turns the gradient grad of ce's last Forward (logits [N, C]
// against labels) into that of the group-weighted loss, in place, and
// returns the weighted loss. indices are the batch images' item indices.
func (b *groupBalance) reweight(ce *nn.CrossEntropy, logits *tensor.Tensor, labels, indices []int, grad *tensor.Tensor) float32 {
	rows, nc := len(labels), logits.Dim(-1)
	if cap(b.logp) < rows*nc {
		b.logp = make([]float32, rows*nc)
	}
	logp := b.logp[:rows*nc]
	tensor.LogSoftmaxRows(logp, logits.Contiguous().Values(), rows, nc)
	cw := func(k int) float64 {
		if ce.Weight == nil {
			return 1
		}
		return float64(ce.Weight[k])
	}
	eps := float64(ce.LabelSmoothing)
	var loss, norm float64
	g := grad.Values()
	for n, y := range labels {
		s := b.weights[indices[n]]
		row := logp[n*nc : (n+1)*nc]
		l := -(1 - eps) * cw(y) * float64(row[y])
		if eps > 0 {
			var sm float64
			for k, v := range row {
				sm -= cw(k) * float64(v)
			}
			l += eps / float64(nc) * sm
		}
		loss += float64(s) * l
		norm += cw(y)
		for k := range nc {
			g[n*nc+k] *= s
		}
	}
	return float32(loss / math.Max(norm, 1e-12))
}

// groupSummary describes the weights for the log: "site1 0.75, site2 1.5".
func groupSummary(w map[string]float64) string {
	keys := make([]string, 0, len(w))
	for k := range w {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %.4g", k, w[k])
	}
	return strings.Join(parts, ", ")
}
