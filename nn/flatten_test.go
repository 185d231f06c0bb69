package nn

import (
	"math/rand/v2"
	"testing"

	"github.com/deepscope/deepscope/tensor"
)

func TestFlattenAndLastStepGrad(t *testing.T) {
	rng := rand.New(rand.NewPCG(50, 1))
	cases := []struct {
		name  string
		m     Module
		shape []int
	}{
		{"Flatten 4d", NewFlatten(), []int{2, 3, 4, 5}},
		{"Flatten 2d", NewFlatten(), []int{3, 7}},
		{"LastStep", &LastStep{}, []int{2, 4, 3}},
		{"LastStep T=1", &LastStep{}, []int{3, 1, 2}},
	}
	for _, c := range cases {
		checkGrads(t, gradCase{name: c.name, m: c.m, x: tensor.Randn(rng, 1, c.shape...)})
	}
}

func TestFlattenShapes(t *testing.T) {
	f := NewFlatten()
	x := tensor.Randn(rand.New(rand.NewPCG(1, 1)), 1, 2, 3, 4, 5)
	y := f.Forward(x)
	if !tensor.SameShape(y, tensor.New(2, 60)) || &y.Data[0] != &x.Data[0] {
		t.Fatalf("Flatten gave %v, want a [2 60] view", y.Shape)
	}
	dx := f.Backward(tensor.New(2, 60))
	if !tensor.SameShape(dx, x) {
		t.Errorf("Flatten backward gave %v, want %v", dx.Shape, x.Shape)
	}
	if allocs := testing.AllocsPerRun(10, func() { f.Backward(f.Forward(x)) }); allocs != 0 {
		t.Errorf("Flatten allocates %.0f times per step", allocs)
	}
}

func TestLastStepValues(t *testing.T) {
	// x[n, t, h] = 100n + 10t + h; the last step of sample n is 100n + 20 + h.
	x := tensor.New(2, 3, 2)
	for n := range 2 {
		for s := range 3 {
			for h := range 2 {
				x.Set(float32(100*n+10*s+h), n, s, h)
			}
		}
	}
	y := (&LastStep{}).Forward(x)
	want := []float32{20, 21, 120, 121}
	for i, w := range want {
		if y.Data[i] != w {
			t.Errorf("y[%d] = %g, want %g", i, y.Data[i], w)
		}
	}
}
