package nn

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/deepscope/deepscope/tensor"
)

// awayFromZero returns normal samples nudged off [-0.1, 0.1], so finite
// differences do not straddle ReLU's kink.
func awayFromZero(rng *rand.Rand, shape ...int) *tensor.Tensor {
	x := tensor.Randn(rng, 1, shape...)
	for i, v := range x.Data {
		if math.Abs(float64(v)) < 0.1 {
			x.Data[i] = 0.5
		}
	}
	return x
}

func TestActivationGrads(t *testing.T) {
	rng := rand.New(rand.NewPCG(10, 1))
	mods := []struct {
		name string
		m    Module
	}{
		{"ReLU", &ReLU{}},
		{"GELU", &GELU{}},
		{"GELU tanh", &GELU{Approximate: "tanh"}},
		{"SiLU", &SiLU{}},
		{"Sigmoid", &Sigmoid{}},
		{"Tanh", &Tanh{}},
		{"Identity", &Identity{}},
	}
	for _, md := range mods {
		for _, shape := range [][]int{{7}, {3, 4}, {2, 3, 5}} {
			checkGrads(t, gradCase{name: md.name, m: md.m, x: awayFromZero(rng, shape...), eps: 1e-3})
		}
	}
}

func TestActivationValues(t *testing.T) {
	// References from PyTorch (float64): torch.nn.functional.gelu(x,
	// approximate=...) and its autograd gradient, and silu.
	x := []float32{-3, -1, -0.5, 0, 0.5, 1, 3, 10}
	cases := []struct {
		name   string
		m      Module
		y, dy  []float64
		dyNone bool
	}{
		{"GELU", &GELU{},
			[]float64{-0.00404969409, -0.158655254, -0.154268769, 0, 0.345731231, 0.841344746, 2.99595031, 10},
			[]float64{-0.0119456472, -0.0833154706, 0.132504875, 0.5, 0.867495125, 1.08331547, 1.01194565, 1}, false},
		{"GELU tanh", &GELU{Approximate: "tanh"},
			[]float64{-0.00363739208, -0.158808009, -0.15428599, 0, 0.34571401, 0.841191991, 2.99636261, 10},
			[]float64{-0.0115841666, -0.0829640838, 0.132630096, 0.5, 0.867369904, 1.08296408, 1.01158417, 1}, false},
		{"SiLU", &SiLU{},
			[]float64{-0.14227762, -0.268941421, -0.188770334, 0, 0.311229666, 0.731058579, 2.85772238, 9.99954602}, nil, true},
		{"ReLU", &ReLU{},
			[]float64{0, 0, 0, 0, 0.5, 1, 3, 10}, []float64{0, 0, 0, 0, 1, 1, 1, 1}, false},
	}
	for _, c := range cases {
		y := c.m.Forward(tensor.FromSlice(x, len(x)))
		for i, want := range c.y {
			if math.Abs(float64(y.Data[i])-want) > 1e-6 {
				t.Errorf("%s(%g) = %.9g, want %.9g", c.name, x[i], y.Data[i], want)
			}
		}
		if c.dyNone {
			continue
		}
		dx := c.m.Backward(tensor.Full(1, len(x)))
		for i, want := range c.dy {
			if math.Abs(float64(dx.Data[i])-want) > 1e-6 {
				t.Errorf("%s'(%g) = %.9g, want %.9g", c.name, x[i], dx.Data[i], want)
			}
		}
	}
}

func TestActivationSaturation(t *testing.T) {
	// Extreme inputs give the limits, never NaN or Inf.
	x := tensor.FromSlice([]float32{-1e30, -1000, 1000, 1e30}, 4)
	cases := []struct {
		name string
		m    Module
		want []float32
	}{
		{"Sigmoid", &Sigmoid{}, []float32{0, 0, 1, 1}},
		{"Tanh", &Tanh{}, []float32{-1, -1, 1, 1}},
		{"SiLU", &SiLU{}, []float32{0, 0, 1000, 1e30}},
		{"GELU", &GELU{}, []float32{0, 0, 1000, 1e30}},
		{"GELU tanh", &GELU{Approximate: "tanh"}, []float32{0, 0, 1000, 1e30}},
	}
	for _, c := range cases {
		y := c.m.Forward(x)
		dx := c.m.Backward(tensor.Full(1, 4))
		for i, w := range c.want {
			// -0 and 0 compare equal; anything else must match exactly.
			if y.Data[i] != w {
				t.Errorf("%s(%g) = %g, want %g", c.name, x.Data[i], y.Data[i], w)
			}
			if g := float64(dx.Data[i]); math.IsNaN(g) || math.IsInf(g, 0) {
				t.Errorf("%s'(%g) = %g", c.name, x.Data[i], g)
			}
		}
	}
}

func TestGELUBadApproximatePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("no panic for Approximate \"fast\"")
		}
	}()
	(&GELU{Approximate: "fast"}).Forward(tensor.New(2))
}

func TestFloat32Functions(t *testing.T) {
	// The float32 element functions against math's float64 ones over a fine
	// grid: relative error for sigmoid and tanh, absolute for erf.
	cases := []struct {
		name     string
		f        func(float32) float32
		ref      func(float64) float64
		lo, hi   float32
		tol      float64
		relative bool
	}{
		{"sigmoid32", sigmoid32, func(x float64) float64 { return 1 / (1 + math.Exp(-x)) }, -80, 80, 3e-7, true},
		{"tanh32", tanh32, math.Tanh, -20, 20, 3e-7, true},
		{"erf32", erf32, math.Erf, -6, 6, 5e-7, false},
	}
	for _, c := range cases {
		worst := 0.0
		for x := c.lo; x < c.hi; x += 0.000731 {
			got, want := float64(c.f(x)), c.ref(float64(x))
			e := math.Abs(got - want)
			if c.relative && want != 0 {
				e /= math.Abs(want)
			}
			worst = math.Max(worst, e)
		}
		if worst > c.tol {
			t.Errorf("%s: error up to %g, want at most %g", c.name, worst, c.tol)
		}
		for _, x := range []float32{float32(math.Inf(1)), float32(math.Inf(-1))} {
			if got, want := float64(c.f(x)), c.ref(float64(x)); got != want {
				t.Errorf("%s(%g) = %g, want %g", c.name, x, got, want)
			}
		}
		if got := c.f(float32(math.NaN())); !math.IsNaN(float64(got)) {
			t.Errorf("%s(NaN) = %g", c.name, got)
		}
	}
	// tanh32 is odd and exact at 0; tiny arguments keep full relative precision.
	if tanh32(1e-20) != 1e-20 || tanh32(-0.3) != -tanh32(0.3) {
		t.Error("tanh32 loses precision near 0 or is not odd")
	}
}

// BenchmarkActivations times forward and backward of each activation over
// a ViT-sized hidden layer (64 × 197 × 384 values).
func BenchmarkActivations(b *testing.B) {
	rng := rand.New(rand.NewPCG(11, 1))
	x := tensor.Randn(rng, 1, 64*197, 384)
	dy := tensor.Randn(rng, 1, 64*197, 384)
	for _, c := range []struct {
		name string
		m    Module
	}{{"ReLU", &ReLU{}}, {"GELU", &GELU{}}, {"GELU tanh", &GELU{Approximate: "tanh"}}, {"SiLU", &SiLU{}}, {"Sigmoid", &Sigmoid{}}, {"Tanh", &Tanh{}}} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(4 * x.Len()))
			for b.Loop() {
				c.m.Forward(x)
				c.m.Backward(dy)
			}
		})
	}
}

func TestActivationAllocs(t *testing.T) {
	rng := rand.New(rand.NewPCG(12, 1))
	x, dy := tensor.Randn(rng, 1, 8, 16), tensor.Randn(rng, 1, 8, 16)
	for _, m := range []Module{&ReLU{}, &GELU{}, &SiLU{}, &Sigmoid{}, &Tanh{}, NewDropout(0.3)} {
		if a := testing.AllocsPerRun(10, func() { m.Forward(x); m.Backward(dy) }); a > 2 {
			t.Errorf("%T: %.0f allocations per forward+backward", m, a)
		}
	}
}
