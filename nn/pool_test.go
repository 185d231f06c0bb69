package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/deepscope/deepscope/tensor"
)

// distinct returns a tensor whose values are a random permutation of
// 0, 0.1, 0.2, ...: no ties, and a finite-difference step of 0.01 cannot
// change which value of a window is largest.
func distinct(rng *rand.Rand, shape ...int) *tensor.Tensor {
	t := tensor.New(shape...)
	for i, p := range rng.Perm(t.Len()) {
		t.Data[i] = 0.1*float32(p) - 0.05*float32(t.Len())
	}
	return t
}

type poolCase struct {
	k, s, p int
	shape   []int
}

var poolCases = []poolCase{
	{3, 2, 1, []int{2, 7, 6, 3}},
	{2, 2, 0, []int{1, 4, 5, 2}},
	{3, 1, 1, []int{2, 3, 4, 2}},
	{3, 3, 0, []int{2, 7, 8, 1}},
	{2, 1, 1, []int{1, 1, 1, 4}},
	{1, 2, 0, []int{2, 5, 5, 3}},
}

// naivePool applies f to each window's values (padding excluded) and the
// window's PyTorch divisor.
func naivePool(x *tensor.Tensor, k, s, p int, f func(vals []float64, size int) float64) []float64 {
	n, h, w, c := x.Dim(0), x.Dim(1), x.Dim(2), x.Dim(3)
	oh, ow := (h+2*p-k)/s+1, (w+2*p-k)/s+1
	var y []float64
	for b := 0; b < n; b++ {
		for oy := 0; oy < oh; oy++ {
			for ox := 0; ox < ow; ox++ {
				for ch := 0; ch < c; ch++ {
					var vals []float64
					for kh := 0; kh < k; kh++ {
						for kw := 0; kw < k; kw++ {
							iy, ix := oy*s-p+kh, ox*s-p+kw
							if iy >= 0 && iy < h && ix >= 0 && ix < w {
								vals = append(vals, float64(x.At(b, iy, ix, ch)))
							}
						}
					}
					hs, ws := oy*s-p, ox*s-p
					size := (min(hs+k, h+p) - hs) * (min(ws+k, w+p) - ws)
					y = append(y, f(vals, size))
				}
			}
		}
	}
	return y
}

func TestMaxPool2dForward(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	for _, pc := range poolCases {
		x := tensor.Randn(rng, 1, pc.shape...)
		want := naivePool(x, pc.k, pc.s, pc.p, func(v []float64, _ int) float64 {
			m := math.Inf(-1)
			for _, u := range v {
				m = math.Max(m, u)
			}
			return m
		})
		assertClose64(t, fmt.Sprint(pc), NewMaxPool2d(pc.k, pc.s, pc.p).Forward(x).Values(), want, 0)
	}
}

func TestAvgPool2dForward(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 2))
	for _, pc := range poolCases {
		x := tensor.Randn(rng, 1, pc.shape...)
		want := naivePool(x, pc.k, pc.s, pc.p, func(v []float64, size int) float64 {
			var s float64
			for _, u := range v {
				s += u
			}
			return s / float64(size)
		})
		assertClose64(t, fmt.Sprint(pc), NewAvgPool2d(pc.k, pc.s, pc.p).Forward(x).Values(), want, 1e-6)
	}
}

// Ties go to the first maximum in row-major window order and a NaN wins
// (the last NaN if several), as in PyTorch, so the gradient lands on that
// input.
func TestMaxPool2dTiesAndNaN(t *testing.T) {
	nan := float32(math.NaN())
	cases := []struct {
		in   []float32 // one 2x2 window, one channel
		grad []float32
	}{
		{[]float32{1, 3, 3, 0}, []float32{0, 1, 0, 0}},
		{[]float32{2, 2, 2, 2}, []float32{1, 0, 0, 0}},
		{[]float32{1, nan, 5, 2}, []float32{0, 1, 0, 0}},
		{[]float32{1, nan, nan, 2}, []float32{0, 0, 1, 0}},                           // the last NaN
		{[]float32{float32(math.Copysign(0, -1)), 0, -1, -2}, []float32{1, 0, 0, 0}}, // -0 ties +0
		{[]float32{-inf32(), -inf32(), -inf32(), -inf32()}, []float32{1, 0, 0, 0}},
	}
	for _, c := range cases {
		l := NewMaxPool2d(2, 2, 0)
		y := l.Forward(tensor.FromSlice(c.in, 1, 2, 2, 1))
		dx := l.Backward(tensor.Full(1, y.Shape...))
		for i, v := range dx.Values() {
			if v != c.grad[i] {
				t.Errorf("input %v: gradient %v, want %v", c.in, dx.Values(), c.grad)
				break
			}
		}
	}
}

func inf32() float32 { return float32(math.Inf(1)) }

func TestPoolGrad(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	for _, pc := range poolCases {
		checkGrads(t, gradCase{name: fmt.Sprint("max", pc), m: NewMaxPool2d(pc.k, pc.s, pc.p), x: distinct(rng, pc.shape...)})
		checkGrads(t, gradCase{name: fmt.Sprint("avg", pc), m: NewAvgPool2d(pc.k, pc.s, pc.p), x: tensor.Randn(rng, 1, pc.shape...)})
	}
}

var adaptiveCases = []struct {
	oh, ow int
	shape  []int
}{
	{2, 3, []int{2, 5, 7, 3}},
	{1, 1, []int{2, 4, 3, 2}},
	{4, 4, []int{1, 4, 4, 2}},
	{3, 3, []int{2, 7, 5, 1}},
	{3, 2, []int{1, 2, 2, 2}}, // more cells than rows: windows overlap
}

func TestAdaptiveAvgPool2dForward(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	for _, ac := range adaptiveCases {
		x := tensor.Randn(rng, 1, ac.shape...)
		n, h, w, c := x.Dim(0), x.Dim(1), x.Dim(2), x.Dim(3)
		var want []float64
		for b := 0; b < n; b++ {
			for i := 0; i < ac.oh; i++ {
				for j := 0; j < ac.ow; j++ {
					for ch := 0; ch < c; ch++ {
						// PyTorch's start_index/end_index in floating point.
						h0 := int(math.Floor(float64(i*h) / float64(ac.oh)))
						h1 := int(math.Ceil(float64((i+1)*h) / float64(ac.oh)))
						w0 := int(math.Floor(float64(j*w) / float64(ac.ow)))
						w1 := int(math.Ceil(float64((j+1)*w) / float64(ac.ow)))
						var s float64
						for y := h0; y < h1; y++ {
							for z := w0; z < w1; z++ {
								s += float64(x.At(b, y, z, ch))
							}
						}
						want = append(want, s/float64((h1-h0)*(w1-w0)))
					}
				}
			}
		}
		assertClose64(t, fmt.Sprint(ac), NewAdaptiveAvgPool2d(ac.oh, ac.ow).Forward(x).Values(), want, 1e-6)
	}
}

func TestAdaptiveAndGlobalPoolGrad(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	for _, ac := range adaptiveCases {
		checkGrads(t, gradCase{name: fmt.Sprint(ac), m: NewAdaptiveAvgPool2d(ac.oh, ac.ow), x: tensor.Randn(rng, 1, ac.shape...)})
		checkGrads(t, gradCase{name: fmt.Sprint("global", ac.shape), m: NewGlobalAvgPool(), x: tensor.Randn(rng, 1, ac.shape...)})
	}
}

// GlobalAvgPool is adaptive pooling to 1x1, flattened.
func TestGlobalAvgPoolIsAdaptiveOneByOne(t *testing.T) {
	rng := rand.New(rand.NewPCG(6, 6))
	for _, sh := range [][]int{{3, 4, 4, 5}, {2, 1, 1, 3}, {1, 7, 3, 17}} {
		x := tensor.Randn(rng, 1, sh...)
		var g GlobalAvgPool // the zero value works
		got := g.Forward(x)
		want := NewAdaptiveAvgPool2d(1, 1).Forward(x)
		if !equalInts(got.Shape, []int{sh[0], sh[3]}) {
			t.Fatalf("%v: shape %v", sh, got.Shape)
		}
		for i, v := range want.Values() {
			if math.Abs(float64(v-got.Data[i])) > 1e-6 {
				t.Fatalf("%v: value %d = %g, want %g", sh, i, got.Data[i], v)
			}
		}
	}
}

func BenchmarkPoolForwardBackward(b *testing.B) {
	// Batch 32; the max pool of a 64 px ResNet stem and the ResNet head.
	rng := rand.New(rand.NewPCG(7, 7))
	for _, bc := range []struct {
		name  string
		m     Module
		shape []int
	}{
		{"max3s2_32x32x64", NewMaxPool2d(3, 2, 1), []int{32, 32, 32, 64}},
		{"global_4x4x512", NewGlobalAvgPool(), []int{32, 4, 4, 512}},
		{"global_28x28x64", NewGlobalAvgPool(), []int{32, 28, 28, 64}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			x := tensor.Randn(rng, 1, bc.shape...)
			dy := tensor.Randn(rng, 1, bc.m.Forward(x).Shape...)
			bc.m.Backward(dy)
			b.SetBytes(int64(8 * x.Len()))
			b.ReportAllocs()
			for b.Loop() {
				bc.m.Forward(x)
				bc.m.Backward(dy)
			}
		})
	}
}
