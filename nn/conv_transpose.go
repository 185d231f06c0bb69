package nn

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/deepscope/deepscope/tensor"
)

// ConvTransposeConfig describes a transposed convolution as PyTorch's
// nn.ConvTranspose2d: the ConvConfig fields, plus OutputPadding extra rows
// and columns on the bottom and right of the output (less than Stride).
type ConvTransposeConfig struct {
	ConvConfig
	OutputPadding int
}

// ConvTranspose2d is the transpose (adjoint) of Conv2d, the learned
// upsampling of U-Net decoders: input [N, H, W, In], output [N, OH, OW,
// Out] with OH = (H-1)*Stride - 2*Padding + Kernel + OutputPadding.
//
// Weight keeps PyTorch's shape [In, Out/Groups, K, K]. Forward multiplies
// the input rows by the weight re-laid as [In, K*K*Out/Groups] and scatters
// the products into the output with tensor.Col2im; Backward lowers dy with
// tensor.Im2col. Like Conv2d it works on bounded chunks of input pixels
// with shared scratch buffers.
type ConvTranspose2d struct {
	Weight *Param // [In, Out/Groups, K, K]
	Bias   *Param // [Out]; nil without bias
	cfg    ConvTransposeConfig

	x, y, dx *tensor.Tensor
	part64   []float64
}

// NewConvTranspose2d returns a transposed convolution with PyTorch's default
// initialisation: weight and bias uniform in ±1/sqrt(fan_in), where fan_in =
// Out/Groups*K*K (PyTorch computes it from the weight's second dimension).
func NewConvTranspose2d(rng *rand.Rand, c ConvTransposeConfig) *ConvTranspose2d {
	c.ConvConfig = c.ConvConfig.normalised("NewConvTranspose2d")
	if c.OutputPadding < 0 || c.OutputPadding >= c.Stride {
		panic(fmt.Sprintf("nn: NewConvTranspose2d: output padding %d must be below stride %d", c.OutputPadding, c.Stride))
	}
	og := c.Out / c.Groups
	bound := float32(1 / math.Sqrt(float64(og*c.Kernel*c.Kernel)))
	l := &ConvTranspose2d{cfg: c, Weight: NewParam("weight", tensor.Uniform(rng, -bound, bound, c.In, og, c.Kernel, c.Kernel))}
	if c.Bias {
		l.Bias = NewParam("bias", tensor.Uniform(rng, -bound, bound, c.Out))
		l.Bias.NoDecay = true
	}
	return l
}

// Config returns the layer's configuration, with defaults filled in.
func (l *ConvTranspose2d) Config() ConvTransposeConfig { return l.cfg }

// Params returns the weight and, if present, the bias.
func (l *ConvTranspose2d) Params() []*Param {
	if l.Bias == nil {
		return []*Param{l.Weight}
	}
	return []*Param{l.Weight, l.Bias}
}

// geom returns the geometry of the convolution this layer transposes: its
// input is our output, its output our input.
func (l *ConvTranspose2d) geom(x *tensor.Tensor) tensor.ConvGeom {
	c := l.cfg
	if x.Dims() != 4 || x.Dim(3) != c.In {
		panic(fmt.Sprintf("nn: ConvTranspose2d: input shape %v, want [N, H, W, %d]", x.Shape, c.In))
	}
	oh := (x.Dim(1)-1)*c.Stride - 2*c.Padding + c.Kernel + c.OutputPadding
	ow := (x.Dim(2)-1)*c.Stride - 2*c.Padding + c.Kernel + c.OutputPadding
	if oh <= 0 || ow <= 0 {
		panic(fmt.Sprintf("nn: ConvTranspose2d: input %v gives empty output %dx%d", x.Shape, oh, ow))
	}
	return tensor.ConvGeom{N: x.Dim(0), H: oh, W: ow, C: c.Out,
		KH: c.Kernel, KW: c.Kernel, SH: c.Stride, SW: c.Stride, PH: c.Padding, PW: c.Padding}
}

func (l *ConvTranspose2d) chunkRows(width, rows int) int {
	return max(1, min(rows, convColFloats/width))
}

// Forward computes the transposed convolution of x, [N, H, W, In].
func (l *ConvTranspose2d) Forward(x *tensor.Tensor) *tensor.Tensor {
	g := l.geom(x)
	x = x.Contiguous()
	l.x = x
	c := l.cfg
	ig, og := c.In/c.Groups, c.Out/c.Groups
	width := c.Kernel * c.Kernel * og
	y := tensor.Ensure(&l.y, g.N, g.H, g.W, c.Out)
	wmat := l.packWeight()
	defer putScratch(wmat)
	xv, yv := x.Values(), y.Values()
	clear(yv)
	rows := g.Rows() // input pixels
	step := l.chunkRows(width, rows)
	col := getScratch(step * width)
	defer putScratch(col)
	for r0 := 0; r0 < rows; r0 += step {
		nr := min(step, rows-r0)
		for gi := 0; gi < c.Groups; gi++ {
			tensor.Gemm(false, false, nr, width, ig, 1, xv[r0*c.In+gi*ig:], c.In, wmat[gi*ig*width:], width, 0, col, width)
			tensor.Col2im(g, col, gi*og, og, r0, nr, yv)
		}
	}
	if l.Bias != nil {
		b := l.Bias.Value.Values()
		tensor.Parallel(g.N*g.H*g.W, max(1, 4096/c.Out), func(lo, hi int) {
			for r := lo; r < hi; r++ {
				tensor.Add(yv[r*c.Out:(r+1)*c.Out], yv[r*c.Out:(r+1)*c.Out], b)
			}
		})
	}
	return y
}

// Backward adds the weight and bias gradients for dy and returns dL/dx.
func (l *ConvTranspose2d) Backward(dy *tensor.Tensor) *tensor.Tensor {
	if l.x == nil || !tensor.SameShape(dy, l.y) {
		panic(fmt.Sprintf("nn: ConvTranspose2d: Backward with dy %v after output %v", dy.Shape, shapeOrNil(l.y)))
	}
	dy = dy.Contiguous()
	c := l.cfg
	g := l.geom(l.x)
	ig, og := c.In/c.Groups, c.Out/c.Groups
	width := c.Kernel * c.Kernel * og
	dx := tensor.Ensure(&l.dx, l.x.Shape...)
	xv, dyv, dxv := l.x.Values(), dy.Values(), dx.Values()
	if l.Bias != nil {
		addColumnSums(l.Bias.Grad.Values(), dyv, g.N*g.H*g.W, c.Out, &l.part64)
	}
	rows := g.Rows()
	step := l.chunkRows(width, rows)
	wmat := l.packWeight()
	col := getScratch(step * width)
	dw := getScratch(len(wmat))
	defer putScratch(wmat)
	defer putScratch(col)
	defer putScratch(dw)
	for r0 := 0; r0 < rows; r0 += step {
		nr := min(step, rows-r0)
		beta := float32(1)
		if r0 == 0 {
			beta = 0
		}
		for gi := 0; gi < c.Groups; gi++ {
			tensor.Im2col(g, dyv, gi*og, og, r0, nr, col)
			tensor.Gemm(true, false, ig, width, nr, 1, xv[r0*c.In+gi*ig:], c.In, col, width, beta, dw[gi*ig*width:], width)
			tensor.Gemm(false, true, nr, ig, width, 1, col, width, wmat[gi*ig*width:], width, 0, dxv[r0*c.In+gi*ig:], c.In)
		}
	}
	// Weight.Grad [In, Og, K, K] += dwmat [In, K, K, Og].
	gw := l.Weight.Grad.Values()
	kk := c.Kernel * c.Kernel
	for i := 0; i < c.In; i++ {
		for o := 0; o < og; o++ {
			for k := 0; k < kk; k++ {
				gw[(i*og+o)*kk+k] += dw[(i*kk+k)*og+o]
			}
		}
	}
	return dx
}

// packWeight returns Weight [In, Og, K, K] re-laid in a scratch buffer as
// [In, K, K, Og].
func (l *ConvTranspose2d) packWeight() []float32 {
	w := l.Weight.Value.Values()
	in, og, kk := l.cfg.In, l.cfg.Out/l.cfg.Groups, l.cfg.Kernel*l.cfg.Kernel
	m := getScratch(len(w))
	for i := 0; i < in; i++ {
		for o := 0; o < og; o++ {
			for k := 0; k < kk; k++ {
				m[(i*kk+k)*og+o] = w[(i*og+o)*kk+k]
			}
		}
	}
	return m
}
