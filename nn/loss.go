package nn

import (
	"fmt"
	"math"

	"github.com/deepscope/deepscope/tensor"
)

// Losses are not Modules: they take targets besides the network's output.
// Forward returns the mean loss of a batch and caches what Backward needs;
// Backward returns dL/dlogits of that Forward, in a buffer reused from one
// call to the next.

// CrossEntropy is softmax cross-entropy over the last dimension of the
// logits, with mean reduction, like torch.nn.CrossEntropyLoss with class
// indices as targets. Logits are [..., C]: a classifier's [N, C] or a
// segmentation net's channels-last [N, H, W, C], with one target per row.
//
// With class weights w the mean is weighted: Σₙ w[yₙ]·(−log pₙ[yₙ]) / Σₙ w[yₙ].
// With label smoothing ε PyTorch mixes in the cross-entropy against the
// uniform distribution, weighted by w and normalised by the same Σₙ w[yₙ]:
//
//	L = (1−ε)·Σₙ w[yₙ]·(−log pₙ[yₙ]) / W + ε/C · Σₙ Σ_c w[c]·(−log pₙ[c]) / W
//
// with W = Σₙ w[yₙ] (the number of rows when Weight is nil).
//
// With row weights r (RowWeight, one per row of the next Forward) each
// row's class weights are multiplied by rₙ: w[yₙ] becomes rₙ·w[yₙ] in both
// sums and in W. This is the per-pixel weight map of U-Net's loss
// (Ronneberger et al. 2015), which PyTorch spells as reduction="none"
// followed by a weighted mean.
type CrossEntropy struct {
	Weight         []float32 // per-class weights, length C; nil for none
	LabelSmoothing float32   // ε in [0, 1]
	// RowWeight holds a non-negative weight per row for the next Forward
	// (and its Backward); nil weighs every row 1.
	RowWeight []float32

	logp    *tensor.Tensor // log-softmax of the last Forward, [rows, C]
	grad    *tensor.Tensor
	shape   []int
	targets []int
	wsum    float64
}

// Forward returns the mean cross-entropy of logits [..., C] against one
// class index per row. A target outside [0, C) panics.
func (c *CrossEntropy) Forward(logits *tensor.Tensor, targets []int) float32 {
	if logits.Dims() == 0 || logits.Dim(-1) == 0 {
		panic(fmt.Sprintf("nn: CrossEntropy: logits shape %v, want [..., C]", logits.Shape))
	}
	nc := logits.Dim(-1)
	rows := logits.Len() / nc
	switch {
	case len(targets) != rows:
		panic(fmt.Sprintf("nn: CrossEntropy: %d targets for logits %v", len(targets), logits.Shape))
	case c.Weight != nil && len(c.Weight) != nc:
		panic(fmt.Sprintf("nn: CrossEntropy: %d class weights for %d classes", len(c.Weight), nc))
	case c.RowWeight != nil && len(c.RowWeight) != rows:
		panic(fmt.Sprintf("nn: CrossEntropy: %d row weights for %d rows", len(c.RowWeight), rows))
	case !(c.LabelSmoothing >= 0 && c.LabelSmoothing <= 1):
		panic(fmt.Sprintf("nn: CrossEntropy: label smoothing %g outside [0, 1]", c.LabelSmoothing))
	}
	c.shape = append(c.shape[:0], logits.Shape...)
	c.targets = targets
	logp := tensor.Ensure(&c.logp, rows, nc).Values()
	tensor.LogSoftmaxRows(logp, logits.Contiguous().Values(), rows, nc)

	var nll, smooth, wsum float64
	for n, y := range targets {
		if y < 0 || y >= nc {
			panic(fmt.Sprintf("nn: CrossEntropy: target %d of row %d outside [0, %d)", y, n, nc))
		}
		row := logp[n*nc : (n+1)*nc]
		r := c.rowWeight(n)
		wy := r * c.classWeight(y)
		wsum += wy
		nll -= wy * float64(row[y])
		if c.LabelSmoothing > 0 {
			for k, v := range row {
				smooth -= r * c.classWeight(k) * float64(v)
			}
		}
	}
	c.wsum = wsum
	eps := float64(c.LabelSmoothing)
	return float32(((1-eps)*nll + eps/float64(nc)*smooth) / wsum)
}

// Backward returns dL/dlogits of the last Forward, shaped like its logits:
//
//	(1−ε)/W · w[yₙ]·(pₙ − onehot(yₙ)) + ε/(C·W) · (Σ_c w[c]·pₙ − w)
//
// with w scaled by rₙ on row n when RowWeight is set.
func (c *CrossEntropy) Backward() *tensor.Tensor {
	if c.logp == nil {
		panic("nn: CrossEntropy: Backward before Forward")
	}
	rows, nc := c.logp.Dim(0), c.logp.Dim(1)
	g := tensor.Ensure(&c.grad, c.shape...)
	gv, logp := g.Values(), c.logp.Values()
	eps := float64(c.LabelSmoothing)
	var wtotal float64 // Σ_c w[c]
	for k := range nc {
		wtotal += c.classWeight(k)
	}
	hard, soft := (1-eps)/c.wsum, eps/(float64(nc)*c.wsum)
	tensor.Parallel(rows, max(1, 4096/nc), func(lo, hi int) {
		for n := lo; n < hi; n++ {
			y := c.targets[n]
			r := c.rowWeight(n)
			a := hard * r * c.classWeight(y)
			for k, lp := range logp[n*nc : (n+1)*nc] {
				p := float64(tensor.Exp32(lp))
				d := a*p + soft*r*(wtotal*p-c.classWeight(k))
				if k == y {
					d -= a
				}
				gv[n*nc+k] = float32(d)
			}
		}
	})
	return g
}

func (c *CrossEntropy) rowWeight(n int) float64 {
	if c.RowWeight == nil {
		return 1
	}
	return float64(c.RowWeight[n])
}

func (c *CrossEntropy) classWeight(k int) float64 {
	if c.Weight == nil {
		return 1
	}
	return float64(c.Weight[k])
}

// BCEWithLogits is binary cross-entropy on logits for multi-label targets,
// with mean reduction over all elements, like torch.nn.BCEWithLogitsLoss.
// Per element, with log weight l = 1 + (pos_weight − 1)·y, it is computed in
// PyTorch's overflow-free form
//
//	(1 − y)·x + l·(log(1 + e^−|x|) + max(−x, 0))
type BCEWithLogits struct {
	PosWeight []float32 // weight of positive targets per class (last dimension); nil for 1

	x, y *tensor.Tensor
	grad *tensor.Tensor
}

// Forward returns the mean loss of logits against targets of the same
// shape, with target values in [0, 1].
func (b *BCEWithLogits) Forward(logits, targets *tensor.Tensor) float32 {
	if !tensor.SameShape(logits, targets) || logits.Dims() == 0 {
		panic(fmt.Sprintf("nn: BCEWithLogits: logits %v and targets %v differ in shape", logits.Shape, targets.Shape))
	}
	nc := logits.Dim(-1)
	if b.PosWeight != nil && len(b.PosWeight) != nc {
		panic(fmt.Sprintf("nn: BCEWithLogits: %d positive weights for %d classes", len(b.PosWeight), nc))
	}
	b.x, b.y = logits.Contiguous(), targets.Contiguous()
	xv, yv := b.x.Values(), b.y.Values()
	var s float64
	for i, v := range xv {
		x, y := float64(v), float64(yv[i])
		l := 1 + (b.posWeight(i%nc)-1)*y
		s += (1-y)*x + l*(math.Log1p(math.Exp(-math.Abs(x)))+math.Max(-x, 0))
	}
	return float32(s / float64(len(xv)))
}

// Backward returns dL/dlogits of the last Forward: ((1 − y) − l·σ(−x)) / count.
func (b *BCEWithLogits) Backward() *tensor.Tensor {
	if b.x == nil {
		panic("nn: BCEWithLogits: Backward before Forward")
	}
	g := tensor.Ensure(&b.grad, b.x.Shape...)
	gv, xv, yv := g.Values(), b.x.Values(), b.y.Values()
	nc := b.x.Dim(-1)
	inv := 1 / float64(len(xv))
	for i, v := range xv {
		y := float64(yv[i])
		l := 1 + (b.posWeight(i%nc)-1)*y
		sneg := 1 / (1 + math.Exp(float64(v))) // σ(−x)
		gv[i] = float32(((1 - y) - l*sneg) * inv)
	}
	return g
}

func (b *BCEWithLogits) posWeight(k int) float64 {
	if b.PosWeight == nil {
		return 1
	}
	return float64(b.PosWeight[k])
}

// Softmax returns a new tensor with the softmax of logits over the last
// dimension: class probabilities for a classifier's output.
func Softmax(logits *tensor.Tensor) *tensor.Tensor {
	if logits.Dims() == 0 {
		panic("nn: Softmax of a scalar")
	}
	p := tensor.New(logits.Shape...)
	nc := max(logits.Dim(-1), 1)
	tensor.SoftmaxRows(p.Data, logits.Contiguous().Values(), p.Len()/nc, logits.Dim(-1))
	return p
}
