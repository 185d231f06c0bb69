package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync"

	"github.com/deepscope/deepscope/tensor"
)

// ConvConfig describes a 2-D convolution with a square kernel, as PyTorch's
// nn.Conv2d arguments: In and Out channels, Kernel size, Stride (0 means 1),
// zero Padding on each side, Groups (0 means 1) and whether there is a Bias.
type ConvConfig struct {
	In, Out, Kernel, Stride, Padding, Groups int
	Bias                                     bool
}

// normalised fills the defaults and panics on an impossible configuration.
func (c ConvConfig) normalised(what string) ConvConfig {
	if c.Stride == 0 {
		c.Stride = 1
	}
	if c.Groups == 0 {
		c.Groups = 1
	}
	if c.In <= 0 || c.Out <= 0 || c.Kernel <= 0 || c.Stride < 0 || c.Padding < 0 || c.Groups < 0 ||
		c.In%c.Groups != 0 || c.Out%c.Groups != 0 {
		panic(fmt.Sprintf("nn: %s: bad configuration %+v", what, c))
	}
	return c
}

// convColFloats bounds the lowered (im2col) matrix a convolution keeps: the
// batch is processed in chunks of output pixels whose lowered rows fit in
// this many float32s (4 MiB), so the buffer stays in cache and memory does
// not grow with the batch.
var convColFloats = 1 << 20

// convMinRows is the fewest output pixels a chunk holds, however wide its
// lowered rows: each chunk's GEMM packs the whole weight again, which must
// be shared by enough rows.
var convMinRows = 256

// Conv2d is a 2-D convolution over channels-last input [N, H, W, In] giving
// [N, OH, OW, Out], OH = (H + 2*Padding - Kernel)/Stride + 1, with PyTorch's
// semantics (cross-correlation, zero padding, grouped channels).
//
// Weight keeps PyTorch's shape [Out, In/Groups, K, K]; each Forward re-lays
// it as a [Out, K*K*In/Groups] matrix (kernel rows, kernel columns, input
// channels) so that the output is the lowered input (see tensor.Im2col)
// times its transpose. A 1x1, stride-1, unpadded convolution is a plain
// matrix product on the [N*H*W, In] input; a depthwise one (Groups == In ==
// Out) runs a direct loop over channels instead of GEMMs of width one.
// Lowered rows are never kept for the whole batch: Forward and Backward work
// on bounded chunks and Backward lowers the input again. The chunk buffer
// and the re-laid weight and gradient are scratch shared by all layers
// (see getScratch), so a deep network holds one set, not one per layer.
type Conv2d struct {
	Weight *Param // [Out, In/Groups, K, K]
	Bias   *Param // [Out]; nil without bias
	cfg    ConvConfig

	x, dy  *tensor.Tensor // last input and output gradient
	y, dx  *tensor.Tensor
	dxs    *tensor.Arena // where dx lives when shared; nil: in dx
	part   []float32     // per-thread partial sums
	part64 []float64
}

// NewConv2d returns a convolution with PyTorch's default initialisation:
// weight and bias uniform in ±1/sqrt(fan_in), fan_in = In/Groups*K*K (what
// kaiming_uniform_ with a = sqrt(5) gives).
func NewConv2d(rng *rand.Rand, c ConvConfig) *Conv2d {
	c = c.normalised("NewConv2d")
	ig := c.In / c.Groups
	bound := float32(1 / math.Sqrt(float64(ig*c.Kernel*c.Kernel)))
	l := &Conv2d{cfg: c, Weight: NewParam("weight", tensor.Uniform(rng, -bound, bound, c.Out, ig, c.Kernel, c.Kernel))}
	if c.Bias {
		l.Bias = NewParam("bias", tensor.Uniform(rng, -bound, bound, c.Out))
		l.Bias.NoDecay = true
	}
	return l
}

// Config returns the layer's configuration, with defaults filled in.
func (l *Conv2d) Config() ConvConfig { return l.cfg }

// Params returns the weight and, if present, the bias.
func (l *Conv2d) Params() []*Param {
	if l.Bias == nil {
		return []*Param{l.Weight}
	}
	return []*Param{l.Weight, l.Bias}
}

func (l *Conv2d) pointwise() bool {
	return l.cfg.Kernel == 1 && l.cfg.Stride == 1 && l.cfg.Padding == 0
}

func (l *Conv2d) depthwise() bool {
	return l.cfg.Groups > 1 && l.cfg.Groups == l.cfg.In && l.cfg.Groups == l.cfg.Out
}

func (l *Conv2d) geom(x *tensor.Tensor) tensor.ConvGeom {
	c := l.cfg
	if x.Dims() != 4 || x.Dim(3) != c.In {
		panic(fmt.Sprintf("nn: Conv2d: input shape %v, want [N, H, W, %d]", x.Shape, c.In))
	}
	if x.Dim(1)+2*c.Padding < c.Kernel || x.Dim(2)+2*c.Padding < c.Kernel {
		panic(fmt.Sprintf("nn: Conv2d: input %dx%d too small for kernel %d with padding %d", x.Dim(1), x.Dim(2), c.Kernel, c.Padding))
	}
	return tensor.ConvGeom{N: x.Dim(0), H: x.Dim(1), W: x.Dim(2), C: c.In,
		KH: c.Kernel, KW: c.Kernel, SH: c.Stride, SW: c.Stride, PH: c.Padding, PW: c.Padding}
}

// chunkRows returns how many output pixels one chunk lowers.
func (l *Conv2d) chunkRows(width, rows int) int {
	if l.pointwise() {
		return rows
	}
	return max(1, min(rows, max(convColFloats/width, convMinRows)))
}

// colBuf returns a scratch buffer for n lowered values; a pointwise
// convolution needs none (give it back with putScratch, nil included).
func (l *Conv2d) colBuf(n int) []float32 {
	if l.pointwise() {
		return nil
	}
	return getScratch(n)
}

// lowered returns group gi's lowered rows r0 .. r0+nr-1 and their row
// stride: the input itself for a pointwise convolution, else buf filled by
// Im2col.
func (l *Conv2d) lowered(g tensor.ConvGeom, x []float32, gi, r0, nr int, buf []float32) ([]float32, int) {
	ig := l.cfg.In / l.cfg.Groups
	if l.pointwise() {
		return x[r0*l.cfg.In+gi*ig:], l.cfg.In
	}
	tensor.Im2col(g, x, gi*ig, ig, r0, nr, buf)
	return buf, g.KH * g.KW * ig
}

// Forward computes the convolution of x, [N, H, W, In].
func (l *Conv2d) Forward(x *tensor.Tensor) *tensor.Tensor {
	g := l.geom(x)
	x = x.Contiguous()
	l.x, l.dy = x, nil
	c := l.cfg
	y := tensor.Ensure(&l.y, g.N, g.OutH(), g.OutW(), c.Out)
	wmat := l.packWeight()
	defer putScratch(wmat)
	xv, yv := x.Values(), y.Values()
	if l.depthwise() {
		l.depthwiseForward(g, xv, wmat, yv)
		return y
	}
	og := c.Out / c.Groups
	width := c.Kernel * c.Kernel * (c.In / c.Groups)
	rows := g.Rows()
	step := l.chunkRows(width, rows)
	col := l.colBuf(step * width)
	defer putScratch(col)
	for r0 := 0; r0 < rows; r0 += step {
		nr := min(step, rows-r0)
		yc := yv[r0*c.Out : (r0+nr)*c.Out]
		beta := float32(0)
		if l.Bias != nil {
			fillRowsFrom(yc, l.Bias.Value.Values())
			beta = 1
		}
		for gi := 0; gi < c.Groups; gi++ {
			a, lda := l.lowered(g, xv, gi, r0, nr, col)
			tensor.Gemm(false, true, nr, og, width, 1, a, lda, wmat[gi*og*width:], width, beta, yc[gi*og:], c.Out)
		}
	}
	return y
}

// ShareInputGrad makes Backward return the input gradient in a view of a,
// shared with other layers: the caller guarantees that the gradient is
// consumed before another layer sharing a runs its Backward. The
// per-sample gradient norms (AddPerSampleGradSq) read the output gradient
// kept from Backward, so a network that shares its gradients' storage
// cannot use them.
func (l *Conv2d) ShareInputGrad(a *tensor.Arena) { l.dxs = a }

// Backward adds the weight and bias gradients for dy, [N, OH, OW, Out], and
// returns the input gradient.
func (l *Conv2d) Backward(dy *tensor.Tensor) *tensor.Tensor {
	if l.x == nil || !tensor.SameShape(dy, l.y) {
		panic(fmt.Sprintf("nn: Conv2d: Backward with dy %v after output %v", dy.Shape, shapeOrNil(l.y)))
	}
	var dx *tensor.Tensor
	if l.dxs != nil {
		dx = l.dxs.View(l.x.Shape...)
	} else {
		dx = tensor.Ensure(&l.dx, l.x.Shape...)
	}
	l.backward(dy, dx, false)
	return dx
}

// BackwardAdd is Backward with dL/dx added onto into, a contiguous tensor
// of the input's shape, which it returns. A residual block passes its
// shortcut's gradient, so the sum needs neither a buffer of its own nor a
// pass of its own.
func (l *Conv2d) BackwardAdd(dy, into *tensor.Tensor) *tensor.Tensor {
	if l.x == nil || !tensor.SameShape(dy, l.y) || !tensor.SameShape(into, l.x) {
		panic(fmt.Sprintf("nn: Conv2d: BackwardAdd with dy %v into %v after input %v and output %v", dy.Shape, into.Shape, shapeOrNil(l.x), shapeOrNil(l.y)))
	}
	l.backward(dy, into, true)
	return into
}

// backward adds the parameter gradients for dy and writes dL/dx into dx,
// or adds it onto dx's values when accumulate is set.
func (l *Conv2d) backward(dy, dx *tensor.Tensor, accumulate bool) {
	dy = dy.Contiguous()
	l.dy = dy
	c := l.cfg
	g := l.geom(l.x)
	xv, dyv, dxv := l.x.Values(), dy.Values(), dx.Values()
	rows := g.Rows()
	if l.Bias != nil {
		addColumnSums(l.Bias.Grad.Values(), dyv, rows, c.Out, &l.part64)
	}
	wmat := l.packWeight()
	dw := getScratch(len(wmat))
	defer putScratch(wmat)
	defer putScratch(dw)
	if l.depthwise() {
		l.depthwiseBackward(g, xv, dyv, wmat, dxv, dw, accumulate)
		l.unpackGrad(dw)
		return
	}
	ig, og := c.In/c.Groups, c.Out/c.Groups
	width := c.Kernel * c.Kernel * ig
	step := l.chunkRows(width, rows)
	col := l.colBuf(step * width)
	defer putScratch(col)
	if !l.pointwise() && !accumulate {
		clear(dxv)
	}
	dxBeta := float32(0) // the pointwise product writes dx directly
	if accumulate {
		dxBeta = 1
	}
	for r0 := 0; r0 < rows; r0 += step {
		nr := min(step, rows-r0)
		dyc := dyv[r0*c.Out:]
		beta := float32(1)
		if r0 == 0 {
			beta = 0
		}
		for gi := 0; gi < c.Groups; gi++ {
			a, lda := l.lowered(g, xv, gi, r0, nr, col)
			tensor.Gemm(true, false, og, width, nr, 1, dyc[gi*og:], c.Out, a, lda, beta, dw[gi*og*width:], width)
			if l.pointwise() {
				tensor.Gemm(false, false, nr, ig, og, 1, dyc[gi*og:], c.Out, wmat[gi*og*width:], width, dxBeta, dxv[r0*c.In+gi*ig:], c.In)
				continue
			}
			tensor.Gemm(false, false, nr, width, og, 1, dyc[gi*og:], c.Out, wmat[gi*og*width:], width, 0, col, width)
			tensor.Col2im(g, col, gi*ig, ig, r0, nr, dxv)
		}
	}
	l.unpackGrad(dw)
}

// packWeight returns Weight [Out, I, K, K] re-laid in a scratch buffer as
// [Out, K, K, I], or as [K*K, C] for a depthwise convolution.
func (l *Conv2d) packWeight() []float32 {
	w := l.Weight.Value.Values()
	out, in, kk := l.cfg.Out, l.cfg.In/l.cfg.Groups, l.cfg.Kernel*l.cfg.Kernel
	m := getScratch(len(w))
	if l.depthwise() {
		for c := 0; c < out; c++ {
			for k := 0; k < kk; k++ {
				m[k*out+c] = w[c*kk+k]
			}
		}
		return m
	}
	for o := 0; o < out; o++ {
		for i := 0; i < in; i++ {
			for k := 0; k < kk; k++ {
				m[(o*kk+k)*in+i] = w[(o*in+i)*kk+k]
			}
		}
	}
	return m
}

// unpackGrad adds m, a gradient laid out as packWeight's result, into
// Weight.Grad.
func (l *Conv2d) unpackGrad(m []float32) {
	gw := l.Weight.Grad.Values()
	out, in, kk := l.cfg.Out, l.cfg.In/l.cfg.Groups, l.cfg.Kernel*l.cfg.Kernel
	if l.depthwise() {
		for c := 0; c < out; c++ {
			for k := 0; k < kk; k++ {
				gw[c*kk+k] += m[k*out+c]
			}
		}
		return
	}
	for o := 0; o < out; o++ {
		for i := 0; i < in; i++ {
			for k := 0; k < kk; k++ {
				gw[(o*in+i)*kk+k] += m[(o*kk+k)*in+i]
			}
		}
	}
}

// scratch is a free list of float32 buffers for what lives only during one
// call (lowered chunks, re-laid weights): layers run one after another, so
// a network of any depth keeps about one set, and concurrent networks take
// buffers of their own.
var scratch struct {
	sync.Mutex
	free [][]float32
}

// getScratch returns a buffer of n float32s with stale contents: the
// smallest free one that is large enough, else a new one (replacing the
// largest free one, too small for the shapes now in use).
func getScratch(n int) []float32 {
	scratch.Lock()
	defer scratch.Unlock()
	best, largest := -1, -1
	for i, b := range scratch.free {
		if cap(b) >= n && (best < 0 || cap(b) < cap(scratch.free[best])) {
			best = i
		}
		if largest < 0 || cap(b) > cap(scratch.free[largest]) {
			largest = i
		}
	}
	take := best
	if take < 0 {
		take = largest
	}
	var b []float32
	if take >= 0 {
		b = scratch.free[take]
		last := len(scratch.free) - 1
		scratch.free[take] = scratch.free[last]
		scratch.free[last] = nil
		scratch.free = scratch.free[:last]
	}
	if cap(b) < n {
		b = make([]float32, n)
	}
	return b[:n]
}

// putScratch gives a buffer from getScratch back; nil is ignored.
func putScratch(b []float32) {
	if b == nil {
		return
	}
	scratch.Lock()
	scratch.free = append(scratch.free, b)
	scratch.Unlock()
}

// ensureBuf returns (*buf)[:n], reallocating when the capacity is short. The
// contents are stale.
func ensureBuf[T any](buf *[]T, n int) []T {
	if cap(*buf) < n {
		*buf = make([]T, n)
	}
	return (*buf)[:n]
}

// fillRowsFrom sets every row of m (rows of len(v) values) to v.
func fillRowsFrom(m, v []float32) {
	for i := 0; i < len(m); i += len(v) {
		copy(m[i:i+len(v)], v)
	}
}

func shapeOrNil(t *tensor.Tensor) []int {
	if t == nil {
		return nil
	}
	return t.Shape
}

// parallelChunks splits [0, n) into k nearly equal contiguous pieces (k at most
// tensor.Threads() and n) and calls fn(i, lo, hi) for piece i, in parallel.
// It returns k, so callers can keep one partial result per piece.
func parallelChunks(n int, fn func(i, lo, hi int)) int {
	k := min(tensor.Threads(), n)
	if k <= 0 {
		return 0
	}
	tensor.Parallel(k, 1, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			fn(i, i*n/k, (i+1)*n/k)
		}
	})
	return k
}

// addColumnSums adds the column sums of a, a rows×c matrix, into dst, summing
// in float64 with one partial row per thread.
func addColumnSums(dst, a []float32, rows, c int, scratch *[]float64) {
	part := ensureBuf(scratch, tensor.Threads()*c)
	k := parallelChunks(rows, func(i, lo, hi int) {
		p := part[i*c : (i+1)*c]
		clear(p)
		for r := lo; r < hi; r++ {
			for j, v := range a[r*c : (r+1)*c] {
				p[j] += float64(v)
			}
		}
	})
	for j := range dst[:c] {
		var s float64
		for i := 0; i < k; i++ {
			s += part[i*c+j]
		}
		dst[j] += float32(s)
	}
}
