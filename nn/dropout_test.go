package nn

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/deepscope/deepscope/tensor"
)

// reseeded reseeds its Dropout before every Forward, so finite differences
// see the same mask as the analytic gradient.
type reseeded struct{ d *Dropout }

func (r reseeded) Forward(x *tensor.Tensor) *tensor.Tensor {
	r.d.Seed(42)
	return r.d.Forward(x)
}
func (r reseeded) Backward(dy *tensor.Tensor) *tensor.Tensor { return r.d.Backward(dy) }

func TestDropoutGrad(t *testing.T) {
	rng := rand.New(rand.NewPCG(30, 1))
	for _, p := range []float64{0, 0.3, 0.9} {
		for _, shape := range [][]int{{10}, {4, 6}} {
			checkGrads(t, gradCase{name: "Dropout", m: reseeded{NewDropout(p)}, x: tensor.Randn(rng, 1, shape...)})
		}
	}
}

func TestDropoutTraining(t *testing.T) {
	for _, p := range []float64{0.1, 0.5, 0.8} {
		d := NewDropout(p)
		x := tensor.Full(2, 200, 500)
		y := d.Forward(x)
		dropped := 0
		for _, v := range y.Data {
			switch v {
			case 0:
				dropped++
			case float32(2 / (1 - p)):
			default:
				t.Fatalf("p=%g: output %g is neither 0 nor x/(1-p)", p, v)
			}
		}
		if frac := float64(dropped) / float64(x.Len()); math.Abs(frac-p) > 0.01 {
			t.Errorf("p=%g: dropped %.4f of the elements", p, frac)
		}
		dx := d.Backward(tensor.Full(1, 200, 500))
		for i, v := range dx.Data {
			if v != y.Data[i]/2 {
				t.Fatalf("p=%g: gradient %g where output was %g", p, v, y.Data[i])
			}
		}
	}
}

func TestDropoutSeed(t *testing.T) {
	x := tensor.Full(1, 1000)
	mask := func(d *Dropout, seed uint64) []float32 {
		d.Seed(seed)
		return append([]float32(nil), d.Forward(x).Data...)
	}
	d := NewDropout(0.5)
	a, b, c := mask(d, 7), mask(d, 7), mask(d, 8)
	other := mask(NewDropout(0.5), 7)
	same := func(u, v []float32) bool {
		for i := range u {
			if u[i] != v[i] {
				return false
			}
		}
		return true
	}
	if !same(a, b) || !same(a, other) {
		t.Error("the same seed gave different masks")
	}
	if same(a, c) {
		t.Error("seeds 7 and 8 gave the same mask")
	}
	// Without reseeding, consecutive steps draw fresh masks.
	first := append([]float32(nil), d.Forward(x).Data...)
	if same(first, d.Forward(x).Data) {
		t.Error("two unseeded steps drew the same mask")
	}
}

func TestDropoutEvalAndEdges(t *testing.T) {
	x := tensor.Full(3, 4, 5)
	dy := tensor.Full(1, 4, 5)
	d := NewDropout(0.5)
	SetTraining(d, false)
	if d.Forward(x) != x || d.Backward(dy) != dy {
		t.Error("evaluation mode is not the identity")
	}
	SetTraining(d, true)
	if d.Forward(x) == x {
		t.Error("training mode after eval did not drop")
	}
	if NewDropout(0).Forward(x) != x {
		t.Error("p=0 is not the identity")
	}
	for _, v := range NewDropout(1).Forward(x).Data {
		if v != 0 {
			t.Fatalf("p=1 kept a value %g", v)
		}
	}
	for _, p := range []float64{-0.1, 1.5, math.NaN()} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("NewDropout(%g) did not panic", p)
				}
			}()
			NewDropout(p)
		}()
	}
}
