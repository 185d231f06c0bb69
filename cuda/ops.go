package cuda

import (
	"fmt"
	"math"
)

// BatchNorm is the device side of one nn.BatchNorm2d over C channels of a
// channels-last map: views of its parameters, gradients and running
// statistics, and its own scratch. Statistics are summed in float64.
type BatchNorm struct {
	C                       int
	Weight, Bias            Mem // [C]
	WeightGrad, BiasGrad    Mem // [C]
	RunningMean, RunningVar Mem // [C]
	Momentum, Eps           float64

	acc, mean, invstd Mem // 2C, C and C doubles
	scale, shift      Mem // C floats each
	coef              Mem // 4C floats
	scratch           Mem // all of the above
	training          bool
}

// Free releases the scratch memory.
func (b *BatchNorm) Free(d *Device) {
	d.Free(b.scratch)
	b.scratch = Mem{}
}

// NewBatchNorm allocates the scratch of a batch norm over c channels whose
// parameters live at the given views (momentum 0.1, eps 1e-5; change the
// fields for others).
func (d *Device) NewBatchNorm(c int, weight, bias, weightGrad, biasGrad, runningMean, runningVar Mem) (*BatchNorm, error) {
	if c%4 != 0 {
		return nil, fmt.Errorf("cuda: batch norm over %d channels: a multiple of 4 is needed", c)
	}
	s, err := d.Alloc(c * 16)
	if err != nil {
		return nil, err
	}
	return &BatchNorm{C: c, Weight: weight, Bias: bias, WeightGrad: weightGrad, BiasGrad: biasGrad,
		RunningMean: runningMean, RunningVar: runningVar, Momentum: 0.1, Eps: 1e-5,
		acc: s.Slice(0, 4*c), mean: s.Slice(4*c, 6*c), invstd: s.Slice(6*c, 8*c),
		scale: s.Slice(8*c, 9*c), shift: s.Slice(9*c, 10*c), coef: s.Slice(10*c, 14*c), scratch: s}, nil
}

// Forward sets y = bn(x) (+ res, when res.Ptr != 0), then ReLU if relu:
// x, res and y hold rows × C values. In training it uses the batch's
// statistics and moves the running ones; otherwise the running ones.
func (b *BatchNorm) Forward(d *Device, x, res, y Mem, rows int, training, relu bool) {
	c := b.C
	if x.N < rows*c || y.N < rows*c || (res.Ptr != 0 && res.N < rows*c) {
		panic(fmt.Sprintf("cuda: BatchNorm.Forward of %d rows of %d channels into buffers of %d, %d", rows, c, x.N, y.N))
	}
	if training && rows < 2 {
		panic("cuda: BatchNorm.Forward: training needs more than one value per channel")
	}
	b.training = training
	if training {
		d.launch(d.kern.bnStats, d.channelGrid(rows, c), block32x8, 0, P(x), I(rows), I(c), P(b.acc))
	}
	d.launch(d.kern.bnFinalize, [3]int{(c + 127) / 128, 1, 1}, [3]int{128, 1, 1}, 0,
		P(b.acc), I(rows), I(c), P(b.Weight), P(b.Bias), P(b.RunningMean), P(b.RunningVar),
		D(b.Momentum), D(b.Eps), I(btoi(training)), P(b.mean), P(b.invstd), P(b.scale), P(b.shift))
	n4 := rows * c / 4
	d.launch(d.kern.bnApply, d.grid1(n4), block256, 0, P(x), P(res), P(y), P(b.scale), P(b.shift),
		L(n4), I(c/4), I(btoi(relu || res.Ptr != 0)))
}

// Backward adds the weight and bias gradients for dy and sets dx, after a
// Forward of x giving y. With relu, dy is first masked by y > 0, and the
// masked gradient is written to dres when dres.Ptr != 0 (what a residual
// shortcut receives after ForwardAddReLU).
func (b *BatchNorm) Backward(d *Device, x, y, dy, dres, dx Mem, rows int, relu bool) {
	c := b.C
	d.launch(d.kern.bnBwdReduce, d.channelGrid(rows, c), block32x8, 0,
		P(x), P(y), P(dy), P(dres), P(b.mean), I(rows), I(c), I(btoi(relu)), P(b.acc))
	d.launch(d.kern.bnBwdCoef, [3]int{(c + 127) / 128, 1, 1}, [3]int{128, 1, 1}, 0,
		P(b.acc), P(b.mean), P(b.invstd), P(b.Weight), P(b.WeightGrad), P(b.BiasGrad), I(rows), I(c),
		I(btoi(b.training)), P(b.coef))
	d.launch(d.kern.bnBwdDx, d.grid1(rows*c), block256, 0, P(x), P(y), P(dy), P(b.coef), P(dx), L(rows*c), I(c), I(btoi(relu)))
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// GlobalAvgPool sets y [N, C] to the means of x [N, P, C] over P.
func (d *Device) GlobalAvgPool(x, y Mem, n, p, c int) {
	d.launch(d.kern.gapFwd, [3]int{(n*c + 255) / 256, 1, 1}, block256, 0, P(x), P(y), I(n), I(p), I(c))
}

// GlobalAvgPoolBackward sets dx [N, P, C] to dy [N, C] / P at every position.
func (d *Device) GlobalAvgPoolBackward(dy, dx Mem, n, p, c int) {
	d.launch(d.kern.gapBwd, d.grid1(n*p*c), block256, 0, P(dy), P(dx), L(n*p*c), I(p), I(c))
}

// Dropout sets y = x*mask over n values, mask being 0 with probability p
// and 1/(1-p) otherwise, drawn from seed.
func (d *Device) Dropout(x, y, mask Mem, n int, p float64, seed uint64) {
	s := float32(0)
	if p < 1 {
		s = float32(1 / (1 - p))
	}
	d.launch(d.kern.dropoutFwd, d.grid1(n), block256, 0, P(x), P(y), P(mask), L(n), F(float32(p)), F(s), seed)
}

// Mul sets z = x*y over n values.
func (d *Device) Mul(x, y, z Mem, n int) {
	d.launch(d.kern.mul, d.grid1(n), block256, 0, P(x), P(y), P(z), L(n))
}

// AddInto sets y += x over n values.
func (d *Device) AddInto(y, x Mem, n int) {
	d.launch(d.kern.addInto, d.grid1(n), block256, 0, P(y), P(x), L(n))
}

// ConcatChannels sets out [rows, A+B] to each row of a [rows, A] followed
// by the same row of b [rows, B]: channels-last maps joined along their
// channels, as torch.cat(dim=1) on NCHW.
func (d *Device) ConcatChannels(out, a, b Mem, rows, ca, cb int) {
	d.launch(d.kern.concat, d.grid1(rows*(ca+cb)), block256, 0, P(out), P(a), P(b), L(rows), I(ca), I(cb))
}

// SplitChannels is ConcatChannels' inverse (and its backward): a gets the
// first A channels of each row of in [rows, A+B], b the other B.
func (d *Device) SplitChannels(a, b, in Mem, rows, ca, cb int) {
	d.launch(d.kern.split, d.grid1(rows*(ca+cb)), block256, 0, P(a), P(b), P(in), L(rows), I(ca), I(cb))
}

// AddBias adds b [C] to every row of y [rows, C].
func (d *Device) AddBias(y, b Mem, rows, c int) {
	d.launch(d.kern.addBias, d.grid1(rows*c), block256, 0, P(y), P(b), L(rows*c), I(c))
}

// ColSum adds the column sums of dy [rows, C] into db [C].
func (d *Device) ColSum(dy, db Mem, rows, c int) {
	d.launch(d.kern.colSum, [3]int{(c + 127) / 128, 1, 1}, [3]int{128, 1, 1}, 0, P(dy), P(db), I(rows), I(c))
}

// CrossEntropy writes to out[0] the mean softmax cross-entropy of logits
// [rows, C] against int32 targets, with class weights (Ptr 0 for none) and
// label smoothing eps as nn.CrossEntropy, and dL/dlogits to grad.
func (d *Device) CrossEntropy(logits, targets, weights Mem, rows, c int, eps float32, grad, out Mem) {
	d.launch(d.kern.crossEntropy, [3]int{1, 1, 1}, block256, 0, P(logits), P(targets), P(weights), I(rows), I(c), F(eps), P(grad), P(out))
}

// AdamStep is one parameter's Adam/AdamW update with optim.Adam's float32
// scalars (see optim.Adam.Step): wd is the L2 penalty, decayMul the
// decoupled decay factor, w1 = 1-beta1.
type AdamStep struct {
	WD, DecayMul, W1, B2, OmB2, BC2Sqrt, Eps, NegStep float32
}

// Adam updates w, m and v from g over their length.
func (d *Device) Adam(w, g, m, v Mem, s AdamStep) {
	big := s.W1 >= 0.5
	d.launch(d.kern.adam, d.grid1(w.N), block256, 0, P(w), P(g), P(m), P(v), L(w.N),
		F(s.WD), F(s.DecayMul), F(s.W1), F(1-s.W1), I(btoi(big)), F(s.B2), F(s.OmB2), F(s.BC2Sqrt), F(s.Eps), F(s.NegStep))
}

// SGD updates w (and the momentum buffer buf, unless its Ptr is 0) from g,
// as optim.SGD: wd the L2 penalty, first whether this is the first step.
func (d *Device) SGD(w, g, buf Mem, wd, mom, damp1, negLR float32, first, nesterov bool) {
	d.launch(d.kern.sgd, d.grid1(w.N), block256, 0, P(w), P(g), P(buf), L(w.N),
		F(wd), F(mom), F(damp1), F(negLR), I(btoi(first)), I(btoi(nesterov)))
}

// SumSquares adds Σ x² (in float64) into the two words at out.
func (d *Device) SumSquares(x, out Mem) {
	d.launch(d.kern.sumSquares, [3]int{min(d.grid1(x.N)[0], 1024), 1, 1}, block256, 0, P(x), L(x.N), P(out))
}

// Scale multiplies x by a.
func (d *Device) Scale(x Mem, a float32) {
	d.launch(d.kern.scaleK, d.grid1(x.N), block256, 0, P(x), L(x.N), F(a))
}

// DownloadFloat64 waits for the queued work and reads the float64 at m.
func (d *Device) DownloadFloat64(m Mem) (float64, error) {
	var w [2]float32
	if err := d.Download(w[:], m.Slice(0, 2)); err != nil {
		return 0, err
	}
	return math.Float64frombits(uint64(math.Float32bits(w[0])) | uint64(math.Float32bits(w[1]))<<32), nil
}
