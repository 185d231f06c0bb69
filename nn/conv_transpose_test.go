package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/deepscope/deepscope/tensor"
)

type convTCase struct {
	cfg        ConvTransposeConfig
	n, h, w    int
	smallChunk bool
}

func ct(in, out, k, s, p, op, groups int, bias bool) ConvTransposeConfig {
	return ConvTransposeConfig{ConvConfig{In: in, Out: out, Kernel: k, Stride: s, Padding: p, Groups: groups, Bias: bias}, op}
}

var convTCases = []convTCase{
	{cfg: ct(4, 3, 2, 2, 0, 0, 1, true), n: 2, h: 3, w: 4}, // U-Net up-convolution
	{cfg: ct(3, 2, 3, 2, 1, 1, 1, false), n: 2, h: 3, w: 3},
	{cfg: ct(3, 2, 3, 2, 1, 1, 1, true), n: 2, h: 4, w: 3, smallChunk: true},
	{cfg: ct(2, 4, 3, 1, 1, 0, 1, true), n: 1, h: 5, w: 4},
	{cfg: ct(4, 6, 3, 2, 0, 0, 2, true), n: 2, h: 3, w: 2},
	{cfg: ct(3, 3, 4, 3, 2, 2, 3, false), n: 2, h: 3, w: 3, smallChunk: true},
	{cfg: ct(5, 2, 1, 1, 0, 0, 1, false), n: 2, h: 2, w: 3},
}

// naiveConvT is the direct definition of PyTorch's ConvTranspose2d: input
// pixel (iy, ix) adds x*w[i, o, kh, kw] to output (iy*s-p+kh, ix*s-p+kw).
func naiveConvT(cfg ConvTransposeConfig, x, w, b *tensor.Tensor) []float64 {
	c := cfg.ConvConfig.normalised("test")
	n, h, wd := x.Dim(0), x.Dim(1), x.Dim(2)
	k, s, p := c.Kernel, c.Stride, c.Padding
	oh, ow := (h-1)*s-2*p+k+cfg.OutputPadding, (wd-1)*s-2*p+k+cfg.OutputPadding
	ig, og := c.In/c.Groups, c.Out/c.Groups
	y := make([]float64, n*oh*ow*c.Out)
	for b0 := 0; b0 < n; b0++ {
		for iy := 0; iy < h; iy++ {
			for ix := 0; ix < wd; ix++ {
				for i := 0; i < c.In; i++ {
					g := i / ig
					for o := 0; o < og; o++ {
						for kh := 0; kh < k; kh++ {
							for kw := 0; kw < k; kw++ {
								oy, ox := iy*s-p+kh, ix*s-p+kw
								if oy < 0 || oy >= oh || ox < 0 || ox >= ow {
									continue
								}
								y[((b0*oh+oy)*ow+ox)*c.Out+g*og+o] += float64(x.At(b0, iy, ix, i)) * float64(w.At(i, o, kh, kw))
							}
						}
					}
				}
			}
		}
	}
	if b != nil {
		for i := range y {
			y[i] += float64(b.Data[i%c.Out])
		}
	}
	return y
}

func TestConvTranspose2dForwardMatchesNaive(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	for _, c := range convTCases {
		l := NewConvTranspose2d(rng, c.cfg)
		x := tensor.Randn(rng, 1, c.n, c.h, c.w, c.cfg.In)
		var b *tensor.Tensor
		if l.Bias != nil {
			b = l.Bias.Value
		}
		want := naiveConvT(c.cfg, x, l.Weight.Value, b)
		withConvChunk(c.smallChunk, func() {
			name := fmt.Sprintf("%+v", c)
			assertClose64(t, name, l.Forward(x).Values(), want, 1e-5)
			assertClose64(t, name+"/again", l.Forward(x).Values(), want, 1e-5)
		})
	}
}

func TestConvTranspose2dGrad(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 2))
	for _, c := range convTCases {
		l := NewConvTranspose2d(rng, c.cfg)
		x := tensor.Randn(rng, 1, c.n, c.h, c.w, c.cfg.In)
		withConvChunk(c.smallChunk, func() {
			checkGrads(t, gradCase{name: fmt.Sprintf("%+v", c), m: l, x: x})
		})
	}
}

// A transposed convolution is the adjoint of the convolution with the same
// weight tensor (read as [Out_conv=In, In_conv/Groups=Out/Groups, K, K]):
// <ConvT(x), z> = <x, Conv(z)>.
func TestConvTranspose2dIsAdjointOfConv(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	for _, c := range convTCases {
		cfg := c.cfg
		cfg.Bias = false
		lt := NewConvTranspose2d(rng, cfg)
		conv := NewConv2d(rng, ConvConfig{In: cfg.Out, Out: cfg.In, Kernel: cfg.Kernel, Stride: cfg.Stride, Padding: cfg.Padding, Groups: cfg.Groups})
		conv.Weight.Value.CopyFrom(lt.Weight.Value)
		x := tensor.Randn(rng, 1, c.n, c.h, c.w, cfg.In)
		y := lt.Forward(x)
		z := tensor.Randn(rng, 1, y.Shape...)
		cz := conv.Forward(z)
		if !tensor.SameShape(cz, x) {
			t.Fatalf("%+v: conv of the output has shape %v, input %v", c, cz.Shape, x.Shape)
		}
		var lhs, rhs float64
		for i, v := range y.Values() {
			lhs += float64(v) * float64(z.Data[i])
		}
		for i, v := range cz.Values() {
			rhs += float64(v) * float64(x.Data[i])
		}
		if math.Abs(lhs-rhs) > 1e-4*(1+math.Abs(lhs)) {
			t.Errorf("%+v: <convT(x), z> = %g, <x, conv(z)> = %g", c, lhs, rhs)
		}
	}
}

func TestConvTranspose2dRejectsOutputPadding(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("no panic for output padding >= stride")
		}
	}()
	NewConvTranspose2d(rand.New(rand.NewPCG(4, 4)), ct(2, 2, 3, 2, 1, 2, 1, false))
}

func BenchmarkConvTranspose2dForwardBackward(b *testing.B) {
	// A U-Net decoder step: 128 -> 64 channels, 2x2 stride 2, 32x32 -> 64x64, batch 8.
	rng := rand.New(rand.NewPCG(5, 5))
	l := NewConvTranspose2d(rng, ct(128, 64, 2, 2, 0, 0, 1, true))
	x := tensor.Randn(rng, 1, 8, 32, 32, 128)
	dy := tensor.Randn(rng, 1, l.Forward(x).Shape...)
	l.Backward(dy)
	b.ReportAllocs()
	for b.Loop() {
		l.Forward(x)
		l.Backward(dy)
	}
}
