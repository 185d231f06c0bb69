package tensor_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/deepscope/deepscope/tensor"
)

var im2colGeoms = []tensor.ConvGeom{
	{N: 2, H: 5, W: 5, C: 3, KH: 3, KW: 3, SH: 1, SW: 1, PH: 1, PW: 1},
	{N: 3, H: 7, W: 6, C: 4, KH: 3, KW: 3, SH: 2, SW: 2, PH: 1, PW: 1},
	{N: 1, H: 9, W: 4, C: 2, KH: 5, KW: 3, SH: 3, SW: 1, PH: 2, PW: 0},
	{N: 2, H: 4, W: 4, C: 5, KH: 1, KW: 1, SH: 2, SW: 2, PH: 0, PW: 0},
	{N: 2, H: 3, W: 3, C: 2, KH: 2, KW: 2, SH: 1, SW: 1, PH: 2, PW: 2},
	{N: 4, H: 2, W: 3, C: 1, KH: 2, KW: 3, SH: 1, SW: 1, PH: 0, PW: 1},
	{N: 2, H: 5, W: 4, C: 19, KH: 3, KW: 3, SH: 1, SW: 2, PH: 1, PW: 1},
	// Channel runs of multiples of 8 take the vector kernels; a 5x5
	// kernel's 25 runs take col2im's sum in several calls.
	{N: 2, H: 5, W: 5, C: 16, KH: 3, KW: 3, SH: 1, SW: 1, PH: 1, PW: 1},
	{N: 1, H: 6, W: 5, C: 24, KH: 3, KW: 3, SH: 2, SW: 2, PH: 1, PW: 1},
	{N: 1, H: 7, W: 7, C: 8, KH: 5, KW: 5, SH: 1, SW: 1, PH: 2, PW: 2},
}

// naiveIm2col is the reference: value (r, kh, kw, c) of the lowered matrix.
func naiveIm2col(g tensor.ConvGeom, x []float32, c0, cn, r, kh, kw, c int) float32 {
	oh, ow := g.OutH(), g.OutW()
	n, oy, ox := r/(oh*ow), (r/ow)%oh, r%ow
	ih, iw := oy*g.SH-g.PH+kh, ox*g.SW-g.PW+kw
	if ih < 0 || ih >= g.H || iw < 0 || iw >= g.W {
		return 0
	}
	return x[((n*g.H+ih)*g.W+iw)*g.C+c0+c]
}

// nanBanded returns a slice of n values inside NaN guard bands, and the whole
// backing array to check the bands afterwards.
func nanBanded(n int) (inner, all []float32) {
	all = make([]float32, n+16)
	for i := range all {
		all[i] = float32(math.NaN())
	}
	return all[8 : 8+n], all
}

func checkNaNBands(t *testing.T, name string, all []float32, n int) {
	t.Helper()
	for i := range 8 {
		if !math.IsNaN(float64(all[i])) || !math.IsNaN(float64(all[8+n+i])) {
			t.Fatalf("%s: write outside the slice", name)
		}
	}
}

type chunk struct{ c0, cn, row0, rows int }

func chunksOf(g tensor.ConvGeom) []chunk {
	rows := g.Rows()
	cs := []chunk{{0, g.C, 0, rows}, {0, g.C, 1, rows - 2}, {0, g.C, rows / 3, rows / 2}}
	if g.C > 1 {
		cs = append(cs, chunk{1, g.C - 1, 0, rows}, chunk{g.C / 2, 1, rows / 2, rows - rows/2})
	}
	return cs
}

func TestIm2colMatchesNaive(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	for _, g := range im2colGeoms {
		x := tensor.Randn(rng, 1, g.N, g.H, g.W, g.C).Data
		for _, ch := range chunksOf(g) {
			name := fmt.Sprintf("%+v/%+v", g, ch)
			width := g.KH * g.KW * ch.cn
			col, all := nanBanded(ch.rows * width)
			tensor.Im2col(g, x, ch.c0, ch.cn, ch.row0, ch.rows, col)
			checkNaNBands(t, name, all, len(col))
			for r := 0; r < ch.rows; r++ {
				for kh := 0; kh < g.KH; kh++ {
					for kw := 0; kw < g.KW; kw++ {
						for c := 0; c < ch.cn; c++ {
							got := col[r*width+(kh*g.KW+kw)*ch.cn+c]
							want := naiveIm2col(g, x, ch.c0, ch.cn, ch.row0+r, kh, kw, c)
							if got != want {
								t.Fatalf("%s: col[%d,%d,%d,%d] = %g, want %g", name, r, kh, kw, c, got, want)
							}
						}
					}
				}
			}
		}
	}
}

// Col2im must be the adjoint of Im2col: <Im2col(x), col> == <x, Col2im(col)>
// for every x and col, and it must add into dx rather than overwrite.
func TestCol2imIsAdjoint(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 2))
	for _, g := range im2colGeoms {
		x := tensor.Randn(rng, 1, g.N, g.H, g.W, g.C).Data
		for _, ch := range chunksOf(g) {
			name := fmt.Sprintf("%+v/%+v", g, ch)
			width := g.KH * g.KW * ch.cn
			col := tensor.Randn(rng, 1, ch.rows*width).Data
			lowered := make([]float32, len(col))
			tensor.Im2col(g, x, ch.c0, ch.cn, ch.row0, ch.rows, lowered)
			var lhs float64
			for i, v := range lowered {
				lhs += float64(v) * float64(col[i])
			}
			dx, all := nanBanded(len(x))
			for i := range dx {
				dx[i] = 1
			}
			tensor.Col2im(g, col, ch.c0, ch.cn, ch.row0, ch.rows, dx)
			checkNaNBands(t, name, all, len(dx))
			var rhs float64
			for i, v := range dx {
				rhs += float64(v-1) * float64(x[i])
				n := i % g.C
				if (n < ch.c0 || n >= ch.c0+ch.cn) && v != 1 {
					t.Fatalf("%s: channel %d outside the range was written", name, n)
				}
			}
			if math.Abs(lhs-rhs) > 1e-4*(1+math.Abs(lhs)) {
				t.Errorf("%s: <im2col(x), col> = %g, <x, col2im(col)> = %g", name, lhs, rhs)
			}
		}
	}
}

func TestIm2colPanicsOnBadRange(t *testing.T) {
	g := im2colGeoms[0]
	defer func() {
		if recover() == nil {
			t.Fatal("no panic for rows past the end")
		}
	}()
	tensor.Im2col(g, make([]float32, g.N*g.H*g.W*g.C), 0, g.C, 1, g.Rows(), make([]float32, g.Rows()*27))
}

func BenchmarkIm2col(b *testing.B) {
	// ResNet-18 layer1 at 28 px, batch 32: 64 channels, 3x3, pad 1.
	g := tensor.ConvGeom{N: 32, H: 28, W: 28, C: 64, KH: 3, KW: 3, SH: 1, SW: 1, PH: 1, PW: 1}
	x := make([]float32, g.N*g.H*g.W*g.C)
	rows := 512
	col := make([]float32, rows*9*g.C)
	b.SetBytes(int64(4 * len(col)))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		tensor.Im2col(g, x, 0, g.C, (i*rows)%(g.Rows()-rows), rows, col)
	}
}

func BenchmarkCol2im(b *testing.B) {
	g := tensor.ConvGeom{N: 32, H: 28, W: 28, C: 64, KH: 3, KW: 3, SH: 1, SW: 1, PH: 1, PW: 1}
	dx := make([]float32, g.N*g.H*g.W*g.C)
	rows := 512
	col := make([]float32, rows*9*g.C)
	b.SetBytes(int64(4 * len(col)))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		tensor.Col2im(g, col, 0, g.C, (i*rows)%(g.Rows()-rows), rows, dx)
	}
}
