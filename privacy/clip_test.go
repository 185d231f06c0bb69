package privacy

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/deepscope/deepscope/models"
	"github.com/deepscope/deepscope/nn"
	"github.com/deepscope/deepscope/tensor"
)

// gradsOf copies every parameter gradient of m into one vector.
func gradsOf(m nn.Module) []float64 {
	var g []float64
	for _, p := range nn.Params(m) {
		for _, v := range p.Grad.Values() {
			g = append(g, float64(v))
		}
	}
	return g
}

// explicitClippedSum runs each sample alone and returns its gradient
// norms and the sum of the clipped gradients: the definition the Clipper
// must match.
func explicitClippedSum(m nn.Module, x, dy *tensor.Tensor, maxNorm float64) ([]float64, []float64) {
	n := x.Dim(0)
	xs, ds := x.Len()/n, dy.Len()/n
	var sum, norms []float64
	for i := 0; i < n; i++ {
		xi := tensor.New(append([]int{1}, x.Shape[1:]...)...)
		copy(xi.Data, x.Data[i*xs:(i+1)*xs])
		di := tensor.New(append([]int{1}, dy.Shape[1:]...)...)
		copy(di.Data, dy.Data[i*ds:(i+1)*ds])
		nn.ZeroGrad(m)
		m.Forward(xi)
		m.Backward(di)
		g := gradsOf(m)
		var sq float64
		for _, v := range g {
			sq += v * v
		}
		norm := math.Sqrt(sq)
		norms = append(norms, norm)
		f := math.Min(1, maxNorm/(norm+1e-6))
		if sum == nil {
			sum = make([]float64, len(g))
		}
		for j, v := range g {
			sum[j] += f * v
		}
	}
	return norms, sum
}

// TestClipperMatchesBatchOfOne checks the two-pass clipped sum against a
// loop over samples one at a time, on a group-norm CellNet (convolutions,
// group norms with fused ReLUs, residual additions, pooling, a linear
// head) and on a small MLP with layer norm, with a clipping norm that
// clips some samples and leaves others alone.
func TestClipperMatchesBatchOfOne(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	cell, err := models.New("cellnet", rng, models.Spec{Classes: 3, Size: 12, Norm: "group"})
	if err != nil {
		t.Fatal(err)
	}
	nn.SetTraining(cell, false) // no dropout: the loop's passes must see the same network
	mlp := nn.NewSequential(nn.NewLinear(rng, 6, 8, true), nn.NewLayerNorm(8), &nn.ReLU{}, nn.NewLinear(rng, 8, 3, true))
	for _, c := range []struct {
		name string
		m    nn.Module
		x    *tensor.Tensor
	}{
		{"cellnet", cell, tensor.Randn(rng, 1, 5, 12, 12, 3)},
		{"mlp", mlp, tensor.Randn(rng, 1, 7, 6)},
	} {
		n := c.x.Dim(0)
		dy := tensor.Randn(rng, 1, n, 3)
		for i := 0; i < n*3; i += 3 { // samples of very different norms
			for j := 0; j < 3; j++ {
				dy.Data[i+j] *= float32(1 + i)
			}
		}
		norms, _ := explicitClippedSum(c.m, c.x, dy, 1)
		sorted := append([]float64(nil), norms...)
		for i := range sorted { // median by selection: small n
			for j := i + 1; j < len(sorted); j++ {
				if sorted[j] < sorted[i] {
					sorted[i], sorted[j] = sorted[j], sorted[i]
				}
			}
		}
		maxNorm := sorted[n/2]
		_, want := explicitClippedSum(c.m, c.x, dy, maxNorm)
		cl, err := NewClipper(c.m, maxNorm)
		if err != nil {
			t.Fatal(err)
		}
		c.m.Forward(c.x)
		dyCopy := dy.Clone()
		got := cl.Backward(dy)
		for i := range norms {
			if math.Abs(got[i]-norms[i]) > 1e-4*norms[i] {
				t.Errorf("%s: sample %d: norm %g, batch-of-one %g", c.name, i, got[i], norms[i])
			}
		}
		g := gradsOf(c.m)
		var worst, scale float64
		for j := range want {
			worst = math.Max(worst, math.Abs(g[j]-want[j]))
			scale = math.Max(scale, math.Abs(want[j]))
		}
		if worst > 1e-4*scale {
			t.Errorf("%s: clipped sum differs from batch-of-one by %g (largest value %g)", c.name, worst, scale)
		}
		for i, v := range dy.Data {
			if v != dyCopy.Data[i] {
				t.Fatalf("%s: Backward changed dy", c.name)
			}
		}
	}
}

// TestPerSampleLayersNamesBatchNorm checks that a batch-norm network is
// refused with the layer named.
func TestPerSampleLayersNamesBatchNorm(t *testing.T) {
	m, err := models.New("cellnet", rand.New(rand.NewPCG(1, 1)), models.Spec{Classes: 2, Size: 28})
	if err != nil {
		t.Fatal(err)
	}
	_, err = NewClipper(m, 1)
	if err == nil || !strings.Contains(err.Error(), "bn1") || !strings.Contains(err.Error(), "BatchNorm2d") {
		t.Errorf("batch-norm CellNet: error %v, want one naming bn1 and BatchNorm2d", err)
	}
	if _, err := NewClipper(nn.NewSequential(), 0); err == nil {
		t.Error("max grad norm 0 accepted")
	}
}
