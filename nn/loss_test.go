package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/deepscope/deepscope/tensor"
)

// ceModule presents CrossEntropy with fixed targets as a Module with a
// one-element output, so checkGrads can check its gradient.
type ceModule struct {
	ce      *CrossEntropy
	targets []int
	dx      *tensor.Tensor
}

func (m *ceModule) Forward(x *tensor.Tensor) *tensor.Tensor {
	return tensor.FromSlice([]float32{m.ce.Forward(x, m.targets)}, 1)
}

func (m *ceModule) Backward(dy *tensor.Tensor) *tensor.Tensor {
	return scaled(&m.dx, m.ce.Backward(), dy.Data[0])
}

// bceModule does the same for BCEWithLogits.
type bceModule struct {
	bce     *BCEWithLogits
	targets *tensor.Tensor
	dx      *tensor.Tensor
}

func (m *bceModule) Forward(x *tensor.Tensor) *tensor.Tensor {
	return tensor.FromSlice([]float32{m.bce.Forward(x, m.targets)}, 1)
}

func (m *bceModule) Backward(dy *tensor.Tensor) *tensor.Tensor {
	return scaled(&m.dx, m.bce.Backward(), dy.Data[0])
}

func scaled(dst **tensor.Tensor, g *tensor.Tensor, s float32) *tensor.Tensor {
	out := tensor.Ensure(dst, g.Shape...)
	for i, v := range g.Data {
		out.Data[i] = v * s
	}
	return out
}

func TestLossGrads(t *testing.T) {
	rng := rand.New(rand.NewPCG(60, 1))
	w := []float32{0.5, 2, 1, 3}
	targets := func(n, c int) []int {
		ts := make([]int, n)
		for i := range ts {
			ts[i] = rng.IntN(c)
		}
		return ts
	}
	ce := []struct {
		name  string
		ce    *CrossEntropy
		shape []int
	}{
		{"CE", &CrossEntropy{}, []int{5, 4}},
		{"CE weights", &CrossEntropy{Weight: w}, []int{5, 4}},
		{"CE smoothing", &CrossEntropy{LabelSmoothing: 0.1}, []int{5, 4}},
		{"CE both", &CrossEntropy{Weight: w, LabelSmoothing: 0.2}, []int{5, 4}},
		{"CE full smoothing", &CrossEntropy{Weight: w, LabelSmoothing: 1}, []int{3, 4}},
		{"CE segmentation", &CrossEntropy{Weight: w, LabelSmoothing: 0.1}, []int{2, 3, 3, 4}},
		{"CE one row", &CrossEntropy{}, []int{1, 4}},
		{"CE row weights", &CrossEntropy{Weight: w, LabelSmoothing: 0.1, RowWeight: []float32{0.5, 3, 0, 1, 2}}, []int{5, 4}},
	}
	for _, c := range ce {
		x := tensor.Randn(rng, 2, c.shape...)
		m := &ceModule{ce: c.ce, targets: targets(x.Len()/4, 4)}
		checkGrads(t, gradCase{name: c.name, m: m, x: x, eps: 1e-3, atol: 1e-4})
	}
	bce := []struct {
		name string
		pw   []float32
		soft bool
	}{
		{"BCE", nil, false},
		{"BCE pos weight", []float32{2, 0.5, 1}, false},
		{"BCE soft targets", []float32{3, 1, 0.25}, true},
	}
	for _, c := range bce {
		x := tensor.Randn(rng, 2, 4, 3)
		y := tensor.New(4, 3)
		for i := range y.Data {
			if c.soft {
				y.Data[i] = rng.Float32()
			} else {
				y.Data[i] = float32(rng.IntN(2))
			}
		}
		checkGrads(t, gradCase{name: c.name, m: &bceModule{bce: &BCEWithLogits{PosWeight: c.pw}, targets: y}, x: x, eps: 1e-3, atol: 1e-4})
	}
}

func TestCrossEntropyValues(t *testing.T) {
	// References from PyTorch in float64: F.cross_entropy(x, t, weight=w,
	// label_smoothing=ε) and its autograd gradient.
	x := []float32{1, 2, 0.5, -1, 0, 0, 0, 0, 3, -2, 1, 0.25}
	targets := []int{1, 3, 0}
	w := []float32{0.5, 2, 1, 3}
	cases := []struct {
		name string
		ce   CrossEntropy
		loss float64
		grad []float64
	}{
		{"plain", CrossEntropy{}, 0.689595421, []float64{0.0747359393, -0.130179987, 0.0453296386, 0.0101144095, 0.0833333333, 0.0833333333, 0.0833333333, -0.25, -0.0569377847, 0.00186233856, 0.0374060699, 0.0176693763}},
		{"weight", CrossEntropy{Weight: w}, 0.953254887, []float64{0.0815301157, -0.142014532, 0.0494505148, 0.0110339013, 0.136363636, 0.136363636, 0.136363636, -0.409090909, -0.0155284867, 0.000507910516, 0.0102016554, 0.0048189208}},
		{"smooth", CrossEntropy{LabelSmoothing: 0.1}, 0.816678754, []float64{0.066402606, -0.105179987, 0.0369963053, 0.00178107619, 0.075, 0.075, 0.075, -0.225, -0.0319377847, -0.00647099478, 0.0290727365, 0.00933604294}},
		{"both", CrossEntropy{Weight: w, LabelSmoothing: 0.1}, 1.06109808, []float64{0.0777286987, -0.118897214, 0.0439778631, -0.00280934799, 0.127840909, 0.121022727, 0.125568182, -0.374431818, 0.00825033102, -0.00846871871, 0.00795157334, -0.00773318565}},
	}
	for _, c := range cases {
		loss := c.ce.Forward(tensor.FromSlice(x, 3, 4), targets)
		if math.Abs(float64(loss)-c.loss) > 1e-6 {
			t.Errorf("%s: loss %.9g, want %.9g", c.name, loss, c.loss)
		}
		g := c.ce.Backward()
		for i, want := range c.grad {
			if math.Abs(float64(g.Data[i])-want) > 1e-6 {
				t.Errorf("%s: grad[%d] = %.9g, want %.9g", c.name, i, g.Data[i], want)
			}
		}
	}
}

// TestCrossEntropyRowWeights checks that a row of weight k counts as k
// copies of the row: weights 2, 1, 0 on rows a, b, c give the loss of rows
// a, a, b, and gradients that add up the same way.
func TestCrossEntropyRowWeights(t *testing.T) {
	a, b, c := []float32{1, 2, 0.5, -1}, []float32{0, 0.3, 0, -2}, []float32{3, -2, 1, 0.25}
	for _, base := range []CrossEntropy{{}, {Weight: []float32{0.5, 2, 1, 3}, LabelSmoothing: 0.1}} {
		weighted, copies := base, base
		weighted.RowWeight = []float32{2, 1, 0}
		lw := weighted.Forward(tensor.FromSlice(slices.Concat(a, b, c), 3, 4), []int{1, 3, 0})
		gw := weighted.Backward().Data
		lc := copies.Forward(tensor.FromSlice(slices.Concat(a, a, b), 3, 4), []int{1, 1, 3})
		gc := copies.Backward().Data
		if math.Abs(float64(lw-lc)) > 1e-6 {
			t.Errorf("%+v: loss with row weights %g, with copied rows %g", base, lw, lc)
		}
		for k := range 4 {
			want := []float32{gc[k] + gc[4+k], gc[8+k], 0}
			for r := range 3 {
				if got := gw[r*4+k]; math.Abs(float64(got-want[r])) > 1e-6 {
					t.Errorf("%+v: grad[%d][%d] = %g, want %g", base, r, k, got, want[r])
				}
			}
		}
	}
}

func TestBCEWithLogitsValues(t *testing.T) {
	// References from PyTorch in float64:
	// F.binary_cross_entropy_with_logits(x, y, pos_weight=pw).
	x := tensor.FromSlice([]float32{1, -2, 0.5, -0.3, 4, 0}, 2, 3)
	y := tensor.FromSlice([]float32{1, 0, 1, 0, 1, 0.5}, 2, 3)
	cases := []struct {
		name string
		pw   []float32
		loss float64
		grad []float64
	}{
		{"plain", nil, 0.363319839, []float64{-0.0448235702, 0.0198671537, -0.0629234448, 0.0709262472, -0.00299770166, 0}},
		{"pos weight", []float32{2, 0.5, 1}, 0.414017627, []float64{-0.0896471405, 0.0198671537, -0.0629234448, 0.0709262472, -0.00149885083, 0}},
	}
	for _, c := range cases {
		b := &BCEWithLogits{PosWeight: c.pw}
		loss := b.Forward(x, y)
		if math.Abs(float64(loss)-c.loss) > 1e-6 {
			t.Errorf("%s: loss %.9g, want %.9g", c.name, loss, c.loss)
		}
		g := b.Backward()
		for i, want := range c.grad {
			if math.Abs(float64(g.Data[i])-want) > 1e-7 {
				t.Errorf("%s: grad[%d] = %.9g, want %.9g", c.name, i, g.Data[i], want)
			}
		}
	}
}

func TestLossesStable(t *testing.T) {
	// Logits far beyond exp's float32 range give exact, finite losses.
	ce := &CrossEntropy{}
	if l := ce.Forward(tensor.FromSlice([]float32{1000, -1000, 0, 1e30, -1e30, 0}, 2, 3), []int{0, 2}); math.Abs(float64(l)-0.5e30) > 1e24 {
		t.Errorf("CE of huge logits = %g, want 5e29", l)
	}
	for _, g := range ce.Backward().Data {
		if math.IsNaN(float64(g)) || math.Abs(float64(g)) > 1 {
			t.Errorf("CE gradient %g for huge logits", g)
		}
	}
	b := &BCEWithLogits{}
	l := b.Forward(tensor.FromSlice([]float32{1000, -1000, 1e30}, 1, 3), tensor.FromSlice([]float32{0, 1, 1}, 1, 3))
	if math.Abs(float64(l)-2000.0/3) > 1e-3 {
		t.Errorf("BCE of huge logits = %g, want %g", l, 2000.0/3)
	}
	want := []float32{1.0 / 3, -1.0 / 3, 0}
	for i, g := range b.Backward().Data {
		if math.Abs(float64(g-want[i])) > 1e-7 {
			t.Errorf("BCE grad[%d] = %g, want %g", i, g, want[i])
		}
	}
}

func TestSoftmaxHelper(t *testing.T) {
	p := Softmax(tensor.FromSlice([]float32{0, 0, math.Ln2, 0}, 2, 2))
	want := []float32{0.5, 0.5, 2.0 / 3, 1.0 / 3}
	for i, w := range want {
		if math.Abs(float64(p.Data[i]-w)) > 1e-6 {
			t.Errorf("p[%d] = %g, want %g", i, p.Data[i], w)
		}
	}
}

func TestCrossEntropyBadTargetPanics(t *testing.T) {
	for _, ts := range [][]int{{0, 4}, {-1, 0}, {0}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("targets %v for 2×4 logits did not panic", ts)
				}
			}()
			(&CrossEntropy{}).Forward(tensor.New(2, 4), ts)
		}()
	}
}

func TestLossAllocs(t *testing.T) {
	rng := rand.New(rand.NewPCG(61, 1))
	x := tensor.Randn(rng, 1, 32, 10)
	ts := make([]int, 32)
	ce := &CrossEntropy{LabelSmoothing: 0.1}
	if a := testing.AllocsPerRun(20, func() { ce.Forward(x, ts); ce.Backward() }); a > 4 {
		t.Errorf("CrossEntropy: %.0f allocations per step", a)
	}
}

func ExampleCrossEntropy() {
	// Two samples, three classes; class 2 counts double and labels are
	// smoothed by 0.1, as torch.nn.CrossEntropyLoss(weight, label_smoothing)
	// computes it (PyTorch prints the same loss and gradient).
	logits := tensor.FromSlice([]float32{2, 0, -1, 0.5, 0.5, 3}, 2, 3)
	ce := CrossEntropy{Weight: []float32{1, 1, 2}, LabelSmoothing: 0.1}
	loss := ce.Forward(logits, []int{0, 2})
	grad := ce.Backward() // dL/dlogits, [2, 3]
	fmt.Printf("loss %.4f\n", loss)
	fmt.Printf("grad %.4f\n", grad.Data)
	// Output:
	// loss 0.3009
	// grad [-0.0205 0.0282 -0.0078 0.0343 0.0343 -0.0687]
}
