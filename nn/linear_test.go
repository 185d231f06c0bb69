package nn

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/deepscope/deepscope/tensor"
)

func TestLinearGrad(t *testing.T) {
	rng := rand.New(rand.NewPCG(20, 1))
	cases := []struct {
		name    string
		in, out int
		bias    bool
		shape   []int
	}{
		{"2d bias", 5, 3, true, []int{4, 5}},
		{"2d no bias", 5, 3, false, []int{4, 5}},
		{"3d", 6, 4, true, []int{2, 3, 6}},
		{"1d", 7, 2, true, []int{7}},
		{"wide", 40, 9, true, []int{3, 40}},
	}
	for _, c := range cases {
		checkGrads(t, gradCase{name: c.name, m: NewLinear(rng, c.in, c.out, c.bias), x: tensor.Randn(rng, 1, c.shape...)})
	}
}

func TestLinearValues(t *testing.T) {
	l := NewLinear(rand.New(rand.NewPCG(1, 1)), 2, 3, true)
	copy(l.Weight.Value.Data, []float32{1, 2, 3, 4, 5, 6})
	copy(l.Bias.Value.Data, []float32{0.5, -1, 0})
	y := l.Forward(tensor.FromSlice([]float32{1, -1, 2, 0.5}, 2, 2))
	want := []float32{1 - 2 + 0.5, 3 - 4 - 1, 5 - 6, 2 + 1 + 0.5, 6 + 2 - 1, 10 + 3}
	if !tensor.SameShape(y, tensor.New(2, 3)) {
		t.Fatalf("shape %v, want [2 3]", y.Shape)
	}
	for i, w := range want {
		if y.Data[i] != w {
			t.Errorf("y[%d] = %g, want %g", i, y.Data[i], w)
		}
	}
	dx := l.Backward(tensor.FromSlice([]float32{1, 0, 0, 0, 1, 1}, 2, 3))
	wantDx := []float32{1, 2, 8, 10}
	for i, w := range wantDx {
		if dx.Data[i] != w {
			t.Errorf("dx[%d] = %g, want %g", i, dx.Data[i], w)
		}
	}
	wantDb := []float32{1, 1, 1}
	for i, w := range wantDb {
		if l.Bias.Grad.Data[i] != w {
			t.Errorf("db[%d] = %g, want %g", i, l.Bias.Grad.Data[i], w)
		}
	}
}

func TestLinearInit(t *testing.T) {
	// PyTorch: weight and bias ~ U(-1/√in, 1/√in); the variance of U(-b, b)
	// is b²/3.
	l := NewLinear(rand.New(rand.NewPCG(5, 5)), 64, 200, true)
	bound := 1 / math.Sqrt(64)
	for _, p := range l.Params() {
		var ss float64
		for _, v := range p.Value.Data {
			if math.Abs(float64(v)) > bound {
				t.Fatalf("%s value %g outside ±%g", p.Name, v, bound)
			}
			ss += float64(v) * float64(v)
		}
		if p.Name == "weight" {
			if v := ss / float64(p.Value.Len()); math.Abs(v-bound*bound/3) > 0.05*bound*bound/3 {
				t.Errorf("weight variance %g, want %g", v, bound*bound/3)
			}
		}
	}
	if l.Weight.NoDecay || !l.Bias.NoDecay {
		t.Error("bias should skip weight decay, weight should not")
	}
	var names []string
	Walk(l, func(name string, _ *Param) { names = append(names, name) })
	if len(names) != 2 || names[0] != "weight" || names[1] != "bias" {
		t.Errorf("names %v, want [weight bias]", names)
	}
}

// explicitPerSample runs each sample alone and returns the squared norm of
// its parameter gradient, the definition AddPerSampleGradSq must match.
func explicitPerSample(m Module, x, dy *tensor.Tensor) []float64 {
	n := x.Dim(0)
	xs, ds := x.Len()/n, dy.Len()/n
	out := make([]float64, n)
	for i := range n {
		ZeroGrad(m)
		xi := tensor.FromSlice(append([]float32(nil), x.Data[i*xs:(i+1)*xs]...), append([]int{1}, x.Shape[1:]...)...)
		di := tensor.FromSlice(append([]float32(nil), dy.Data[i*ds:(i+1)*ds]...), append([]int{1}, dy.Shape[1:]...)...)
		m.Forward(xi)
		m.Backward(di)
		for _, p := range Params(m) {
			out[i] += sqNorm(p.Grad.Data)
		}
	}
	return out
}

func TestLinearPerSample(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 1))
	cases := []struct {
		name    string
		in, out int
		bias    bool
		shape   []int
		ghost   bool
	}{
		{"2d", 6, 3, true, []int{5, 6}, false},
		{"2d no bias", 6, 3, false, []int{5, 6}, false},
		{"3d explicit", 3, 2, true, []int{4, 5, 3}, false},
		{"3d ghost", 16, 12, true, []int{3, 4, 16}, true},
		{"4d ghost no bias", 9, 7, false, []int{2, 2, 3, 9}, true},
		{"4d explicit", 9, 7, true, []int{2, 2, 3, 9}, false},
	}
	for _, c := range cases {
		l := NewLinear(rng, c.in, c.out, c.bias)
		x := tensor.Randn(rng, 1, c.shape...)
		dyShape := append(append([]int(nil), c.shape[:len(c.shape)-1]...), c.out)
		dy := tensor.Randn(rng, 1, dyShape...)
		want := explicitPerSample(l, x, dy)

		l.Forward(x)
		l.Backward(dy)
		got := make([]float64, c.shape[0])
		got[0] = 1 // AddPerSampleGradSq adds
		t1 := x.Len() / c.in / c.shape[0]
		l.perSampleSq(got, t1, c.ghost)
		got[0]--
		for i := range got {
			if math.Abs(got[i]-want[i]) > 1e-4*want[i]+1e-6 {
				t.Errorf("%s: sample %d: %g, want %g", c.name, i, got[i], want[i])
			}
		}
		// The public entry point picks one of the two methods.
		pub := make([]float64, c.shape[0])
		l.AddPerSampleGradSq(pub)
		for i := range pub {
			if math.Abs(pub[i]-want[i]) > 1e-4*want[i]+1e-6 {
				t.Errorf("%s: AddPerSampleGradSq sample %d: %g, want %g", c.name, i, pub[i], want[i])
			}
		}
	}
}

func TestLinearAllocs(t *testing.T) {
	rng := rand.New(rand.NewPCG(22, 1))
	l := NewLinear(rng, 32, 8, true)
	x := tensor.Randn(rng, 1, 16, 32)
	dy := tensor.Randn(rng, 1, 16, 8)
	allocs := testing.AllocsPerRun(20, func() {
		l.Forward(x)
		l.Backward(dy)
	})
	// Only the worker pool's closures may allocate, never a buffer.
	if allocs > 8 {
		t.Errorf("%.0f allocations per forward+backward, want at most 8", allocs)
	}
}

func TestLinearShapePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("no panic for a [2 4] input to a Linear(5, 3)")
		}
	}()
	NewLinear(rand.New(rand.NewPCG(1, 1)), 5, 3, true).Forward(tensor.New(2, 4))
}

// BenchmarkLinear times one forward and backward of a 512→8 classifier head
// at batch 128.
func BenchmarkLinear(b *testing.B) {
	rng := rand.New(rand.NewPCG(23, 1))
	l := NewLinear(rng, 512, 8, true)
	x := tensor.Randn(rng, 1, 128, 512)
	dy := tensor.Randn(rng, 1, 128, 8)
	b.ReportAllocs()
	for b.Loop() {
		l.Forward(x)
		l.Backward(dy)
	}
}
