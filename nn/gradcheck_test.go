package nn

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/deepscope/deepscope/tensor"
)

// gradCase describes one finite-difference check of a module.
type gradCase struct {
	name   string
	m      Module
	x      *tensor.Tensor
	eps    float64 // step; default 1e-2
	rtol   float64 // default 2e-2
	atol   float64 // default 2e-3
	probes int     // coordinates checked per tensor; default 24
	noDx   bool    // skip the input gradient (e.g. integer inputs)
}

// checkGrads compares the analytic gradients of c.m (with respect to the
// input and to every parameter) with central finite differences of the
// scalar loss L = sum(r * y) for a fixed random r. The loss and the
// differences are accumulated in float64; the layers themselves compute in
// float32, so the step is larger than in a pure float64 check.
func checkGrads(t *testing.T, c gradCase) {
	t.Helper()
	if c.eps == 0 {
		c.eps = 1e-2
	}
	if c.rtol == 0 {
		c.rtol = 2e-2
	}
	if c.atol == 0 {
		c.atol = 2e-3
	}
	if c.probes == 0 {
		c.probes = 24
	}
	rng := rand.New(rand.NewPCG(1, 2))
	y := c.m.Forward(c.x)
	r := tensor.Randn(rng, 1, y.Shape...)
	loss := func() float64 {
		y := c.m.Forward(c.x).Contiguous().Values()
		var s float64
		for i, v := range y {
			s += float64(v) * float64(r.Data[i])
		}
		return s
	}
	ZeroGrad(c.m)
	c.m.Forward(c.x)
	dx := c.m.Backward(r.Clone())
	var dxv []float32
	if !c.noDx {
		dxv = append([]float32(nil), dx.Contiguous().Values()...)
	}
	type target struct {
		name string
		v    []float32
		g    []float32
	}
	var targets []target
	if !c.noDx {
		targets = append(targets, target{"input", c.x.Values(), dxv})
	}
	Walk(c.m, func(name string, p *Param) {
		if p.Grad != nil {
			targets = append(targets, target{name, p.Value.Values(), append([]float32(nil), p.Grad.Values()...)})
		}
	})
	for _, tg := range targets {
		n := len(tg.v)
		idx := rng.Perm(n)
		if len(idx) > c.probes {
			idx = idx[:c.probes]
		}
		for _, i := range idx {
			old := tg.v[i]
			tg.v[i] = old + float32(c.eps)
			lp := loss()
			tg.v[i] = old - float32(c.eps)
			lm := loss()
			tg.v[i] = old
			num := (lp - lm) / (2 * c.eps)
			got := float64(tg.g[i])
			if math.Abs(got-num) > c.atol+c.rtol*math.Abs(num) {
				t.Errorf("%s: d/d%s[%d] = %.6g, finite difference %.6g", c.name, tg.name, i, got, num)
			}
		}
	}
}

func TestSequentialGradIdentity(t *testing.T) {
	// An empty Sequential is the identity: its input gradient is dy itself.
	rng := rand.New(rand.NewPCG(3, 4))
	checkGrads(t, gradCase{name: "empty", m: NewSequential(), x: tensor.Randn(rng, 1, 2, 3)})
}
