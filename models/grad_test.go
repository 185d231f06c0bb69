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

func TestModelGrads(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	cases := []struct {
		name string
		m    nn.Module
		x    *tensor.Tensor
	}{
		{"resnet-basic", NewResNet(rng, ResNetConfig{Blocks: [4]int{1, 1, 1, 1}, Width: 4, Classes: 3, SmallInput: true}), tensor.Randn(rng, 1, 3, 8, 8, 3)},
		{"resnet-bottleneck", NewResNet(rng, ResNetConfig{Blocks: [4]int{1, 1, 1, 1}, Bottleneck: true, Width: 2, Classes: 3}), tensor.Randn(rng, 1, 2, 16, 16, 3)},
	}
	for _, c := range cases {
		nn.SetTraining(c.m, false)
		checkModelGrads(t, c.name, c.m, c.x)
	}
}
