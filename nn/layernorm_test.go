package nn

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/deepscope/deepscope/tensor"
)

// randomLayerNorm returns a LayerNorm whose weight and bias are random, so
// the gradient check exercises both.
func randomLayerNorm(rng *rand.Rand, dim int) *LayerNorm {
	l := NewLayerNorm(dim)
	l.Weight.Value = tensor.Randn(rng, 1, dim)
	l.Bias.Value = tensor.Randn(rng, 1, dim)
	return l
}

func TestLayerNormGrad(t *testing.T) {
	rng := rand.New(rand.NewPCG(40, 1))
	for _, shape := range [][]int{{8}, {4, 6}, {2, 3, 5}, {3, 1, 2}} {
		d := shape[len(shape)-1]
		checkGrads(t, gradCase{name: "LayerNorm", m: randomLayerNorm(rng, d), x: tensor.Randn(rng, 2, shape...)})
	}
}

func TestLayerNormValues(t *testing.T) {
	l := NewLayerNorm(4)
	y := l.Forward(tensor.FromSlice([]float32{1, 2, 3, 4, 10, 10, 10, 10}, 2, 4))
	rstd := 1 / math.Sqrt(1.25+1e-5)
	want := []float64{-1.5 * rstd, -0.5 * rstd, 0.5 * rstd, 1.5 * rstd, 0, 0, 0, 0}
	for i, w := range want {
		if math.Abs(float64(y.Data[i])-w) > 1e-6 {
			t.Errorf("y[%d] = %g, want %g", i, y.Data[i], w)
		}
	}
	for _, p := range l.Params() {
		if !p.NoDecay {
			t.Errorf("%s should skip weight decay", p.Name)
		}
	}
	if l.Weight.Value.Data[0] != 1 || l.Bias.Value.Data[0] != 0 {
		t.Error("weight should start at 1 and bias at 0")
	}
}

func TestLayerNormPerSample(t *testing.T) {
	rng := rand.New(rand.NewPCG(41, 1))
	for _, shape := range [][]int{{5, 6}, {3, 4, 6}, {2, 2, 3, 5}} {
		d := shape[len(shape)-1]
		l := randomLayerNorm(rng, d)
		x, dy := tensor.Randn(rng, 1, shape...), tensor.Randn(rng, 1, shape...)
		want := explicitPerSample(l, x, dy)
		l.Forward(x)
		l.Backward(dy)
		got := make([]float64, shape[0])
		l.AddPerSampleGradSq(got)
		for i := range got {
			if math.Abs(got[i]-want[i]) > 1e-4*want[i]+1e-6 {
				t.Errorf("%v: sample %d: %g, want %g", shape, i, got[i], want[i])
			}
		}
	}
}

func TestLayerNormAllocs(t *testing.T) {
	rng := rand.New(rand.NewPCG(42, 1))
	l := NewLayerNorm(16)
	x, dy := tensor.Randn(rng, 1, 8, 16), tensor.Randn(rng, 1, 8, 16)
	allocs := testing.AllocsPerRun(20, func() {
		l.Forward(x)
		l.Backward(dy)
	})
	if allocs > 4 {
		t.Errorf("%.0f allocations per forward+backward, want at most 4", allocs)
	}
}
