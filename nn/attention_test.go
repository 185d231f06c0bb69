package nn

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/deepscope/deepscope/tensor"
)

// randomBiases sets every bias of m to random values: PyTorch initialises
// the attention biases to zero, which would hide their gradients' errors.
func randomBiases(rng *rand.Rand, m Module) {
	Walk(m, func(name string, p *Param) {
		if p.Value.Dims() == 1 {
			for i := range p.Value.Data {
				p.Value.Data[i] = float32(rng.NormFloat64() * 0.3)
			}
		}
	})
}

func TestMultiheadAttentionGrad(t *testing.T) {
	rng := rand.New(rand.NewPCG(70, 1))
	cases := []struct {
		name           string
		n, t, d, heads int
	}{
		{"2 heads", 2, 3, 4, 2},
		{"1 head", 1, 5, 3, 1},
		{"4 heads", 2, 4, 8, 4},
		{"T=1", 3, 1, 4, 2},
	}
	for _, c := range cases {
		m := NewMultiheadAttention(rng, c.d, c.heads)
		randomBiases(rng, m)
		checkGrads(t, gradCase{name: c.name, m: m, x: tensor.Randn(rng, 1, c.n, c.t, c.d)})
	}
}

func TestMultiheadAttentionMatchesPyTorch(t *testing.T) {
	// Reference: torch.nn.MultiheadAttention(4, 2, batch_first=True) in
	// float64 with in_proj_weight[i] = 0.3 sin(i+1), in_proj_bias[i] =
	// 0.1 cos(i), out_proj.weight[i] = 0.25 cos(2i+1), out_proj.bias[i] =
	// 0.05 i, x[i] = sin(0.7 i) + 0.1 i, loss = Σ y·r with r[i] = cos(0.3 i).
	m := NewMultiheadAttention(rand.New(rand.NewPCG(1, 1)), 4, 2)
	fill := func(p *Param, f func(i float64) float64) {
		for i := range p.Value.Data {
			p.Value.Data[i] = float32(f(float64(i)))
		}
	}
	fill(m.InProjWeight, func(i float64) float64 { return 0.3 * math.Sin(i+1) })
	fill(m.InProjBias, func(i float64) float64 { return 0.1 * math.Cos(i) })
	fill(m.OutProj.Weight, func(i float64) float64 { return 0.25 * math.Cos(2*i+1) })
	fill(m.OutProj.Bias, func(i float64) float64 { return 0.05 * i })
	x, r := tensor.New(2, 3, 4), tensor.New(2, 3, 4)
	for i := range x.Data {
		x.Data[i] = float32(math.Sin(0.7*float64(i)) + 0.1*float64(i))
		r.Data[i] = float32(math.Cos(0.3 * float64(i)))
	}
	wantY := []float64{-0.0989443155, -0.0262805327, 0.221141956, 0.191028215, -0.187049244, 0.00485615405, 0.300186106, 0.136889676, -0.0660289652, -0.0380882062, 0.191662639, 0.211414372, -0.182902809, -0.2407221, 0.36750296, 0.362878721, -0.0613532205, -0.339969177, 0.274834277, 0.489092391, -0.206040433, -0.193619438, 0.376933706, 0.31303171}
	wantDx := []float64{-0.018647782, -0.0450082221, -0.0299883104, 0.0126027156, -0.0206758439, -0.0518492001, -0.0353526408, 0.0136469734, -0.00080797067, -0.0351508569, -0.0371762074, -0.00502192426, 0.0227419083, 0.0453676174, 0.0262825483, -0.0169665745, 0.0244554351, 0.0607307373, 0.0411704797, -0.0162417271, -0.00104920096, 0.00681547253, 0.008414032, 0.00227676926}
	wantDW := []float64{-0.0414673039, -0.0481439568, -0.0493139682, -0.045723127, 0.0296912003, 0.0348209701, 0.0317989316, 0.0232333591}
	y := m.Forward(x)
	dx := m.Backward(r)
	compare := func(what string, got []float32, want []float64) {
		for i, w := range want {
			if math.Abs(float64(got[i])-w) > 2e-6 {
				t.Errorf("%s[%d] = %.9g, want %.9g", what, i, got[i], w)
			}
		}
	}
	compare("y", y.Data, wantY)
	compare("dx", dx.Data, wantDx)
	compare("in_proj_weight.grad", m.InProjWeight.Grad.Data, wantDW)

	var names []string
	Walk(m, func(name string, _ *Param) { names = append(names, name) })
	want := []string{"in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"}
	if len(names) != len(want) {
		t.Fatalf("parameter names %v, want %v", names, want)
	}
	for i := range want {
		if names[i] != want[i] {
			t.Errorf("parameter names %v, want %v", names, want)
		}
	}
}

func TestMultiheadAttentionWeights(t *testing.T) {
	rng := rand.New(rand.NewPCG(71, 1))
	m := NewMultiheadAttention(rng, 6, 3)
	m.Forward(tensor.Randn(rng, 1, 2, 5, 6))
	w := m.Weights()
	if !tensor.SameShape(w, tensor.New(2, 3, 5, 5)) {
		t.Fatalf("weights shape %v, want [2 3 5 5]", w.Shape)
	}
	for r := range w.Len() / 5 {
		var s float64
		for _, v := range w.Data[r*5 : r*5+5] {
			s += float64(v)
		}
		if math.Abs(s-1) > 1e-5 {
			t.Errorf("attention row %d sums to %g", r, s)
		}
	}
	for _, p := range []*Param{m.InProjBias, m.OutProj.Bias} {
		for _, v := range p.Value.Data {
			if v != 0 {
				t.Fatalf("%s starts at %g, want 0", p.Name, v)
			}
		}
	}
	bound := float32(math.Sqrt(6.0 / 24))
	for _, v := range m.InProjWeight.Value.Data {
		if v < -bound || v > bound {
			t.Fatalf("in_proj_weight %g outside ±%g", v, bound)
		}
	}
}

func TestMultiheadAttentionPerSample(t *testing.T) {
	rng := rand.New(rand.NewPCG(72, 1))
	for _, c := range [][4]int{{3, 4, 4, 2}, {2, 2, 16, 4}} { // n, t, d, heads; explicit and ghost
		n, tt, d, heads := c[0], c[1], c[2], c[3]
		m := NewMultiheadAttention(rng, d, heads)
		x, dy := tensor.Randn(rng, 1, n, tt, d), tensor.Randn(rng, 1, n, tt, d)
		want := explicitPerSample(m, x, dy)
		m.Forward(x)
		m.Backward(dy)
		got := make([]float64, n)
		m.AddPerSampleGradSq(got)
		m.OutProj.AddPerSampleGradSq(got)
		for i := range got {
			if math.Abs(got[i]-want[i]) > 1e-4*want[i]+1e-7 {
				t.Errorf("%v: sample %d: %g, want %g", c, i, got[i], want[i])
			}
		}
	}
}

func TestMultiheadAttentionAllocs(t *testing.T) {
	rng := rand.New(rand.NewPCG(73, 1))
	m := NewMultiheadAttention(rng, 8, 2)
	x, dy := tensor.Randn(rng, 1, 2, 4, 8), tensor.Randn(rng, 1, 2, 4, 8)
	a := testing.AllocsPerRun(10, func() { m.Forward(x); m.Backward(dy) })
	// Closures handed to the worker pool allocate (a few per Gemm and
	// Parallel call, per head); buffers do not.
	if a > 40 {
		t.Errorf("%.0f allocations per forward+backward", a)
	}
	t.Logf("%.0f allocations per forward+backward", a)
}
