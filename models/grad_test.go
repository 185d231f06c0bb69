package models

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/deepscope/deepscope/nn"
	"github.com/deepscope/deepscope/tensor"
)

// checkModelGrads compares a model's analytic gradients for a few
// coordinates of the input and of every parameter with central finite
// differences of L = sum(r * f(x)), the loss accumulated in float64.
func checkModelGrads(t *testing.T, name string, m nn.Module, x *tensor.Tensor) {
	t.Helper()
	rng := rand.New(rand.NewPCG(5, 6))
	y := m.Forward(x)
	r := tensor.Randn(rng, 1, y.Shape...)
	loss := func() float64 {
		var s float64
		for i, v := range m.Forward(x).Values() {
			s += float64(v) * float64(r.Data[i])
		}
		return s
	}
	nn.ZeroGrad(m)
	m.Forward(x)
	dx := m.Backward(r)
	check := func(what string, v, g []float32) {
		for _, i := range rng.Perm(len(v))[:min(6, len(v))] {
			old := v[i]
			const eps = 1e-2
			v[i] = old + eps
			lp := loss()
			v[i] = old - eps
			lm := loss()
			v[i] = old
			num := (lp - lm) / (2 * eps)
			if math.Abs(float64(g[i])-num) > 3e-3+3e-2*math.Abs(num) {
				t.Errorf("%s: d/d%s[%d] = %.5g, finite difference %.5g", name, what, i, g[i], num)
			}
		}
	}
	check("input", x.Values(), append([]float32(nil), dx.Values()...))
	nn.Walk(m, func(pn string, p *nn.Param) {
		if p.Grad != nil {
			check(pn, p.Value.Values(), append([]float32(nil), p.Grad.Values()...))
		}
	})
}

// TestModelGrads checks the composite parts that the models add between
// layers (token embedding, residual additions, the transformer block) on a
// small ViT, whose GELUs and LayerNorms are smooth: networks with ReLUs
// would cross kinks under finite differences. The ResNet blocks are checked
// against PyTorch's gradients in TestResNet18MedMNISTParity.
func TestModelGrads(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	m := NewViT(rng, ViTConfig{Size: 8, Patch: 4, InChannels: 3, Classes: 3, Dim: 8, Depth: 2, Heads: 2})
	// The class token starts at scale 0.02, where LayerNorm's gain of 50
	// makes a finite-difference step of 1e-2 far too coarse: check it at
	// unit scale instead.
	for _, p := range m.Tokens.Params() {
		copy(p.Value.Data, tensor.Randn(rng, 1, p.Value.Shape...).Data)
	}
	checkModelGrads(t, "vit", m, tensor.Randn(rng, 1, 2, 8, 8, 3))
}

// TestModelShapes builds every named model and checks the shape of its
// output and of its input gradient.
func TestModelShapes(t *testing.T) {
	for _, name := range Names() {
		size, shape := 32, []int{2, 32, 32, 3}
		switch name {
		case "resnet18", "resnet34", "resnet50":
			size, shape = 64, []int{2, 64, 64, 3}
		case "cnn-lstm":
			shape = []int{2, 3, 32, 32, 3}
		}
		m, err := New(name, rand.New(rand.NewPCG(2, 2)), Spec{Classes: 5, Size: size})
		if err != nil {
			t.Fatal(err)
		}
		nn.SetTraining(m, true)
		x := tensor.Randn(rand.New(rand.NewPCG(3, 3)), 1, shape...)
		y := m.Forward(x)
		want := []int{2, 5}
		if name == "unet" {
			want = []int{2, size, size, 5}
		}
		if !tensor.SameShape(y, tensor.New(want...)) {
			t.Errorf("%s: output %v, want %v", name, y.Shape, want)
			continue
		}
		dx := m.Backward(tensor.Full(0.1, y.Shape...))
		if !tensor.SameShape(dx, x) {
			t.Errorf("%s: input gradient %v, want %v", name, dx.Shape, x.Shape)
		}
		if nn.NumParams(m) == 0 {
			t.Errorf("%s: no parameters", name)
		}
	}
}
