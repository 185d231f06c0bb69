package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/deepscope/deepscope/tensor"
)

func TestRNNGrad(t *testing.T) {
	rng := rand.New(rand.NewPCG(80, 1))
	cases := []struct {
		name               string
		gru                bool
		in, hidden, layers int
		n, t               int
	}{
		{"LSTM 2 layers T=3", false, 3, 4, 2, 2, 3},
		{"LSTM T=1", false, 2, 3, 1, 3, 1},
		{"LSTM wide", false, 5, 2, 1, 1, 4},
		{"GRU 2 layers T=3", true, 3, 4, 2, 2, 3},
		{"GRU T=1", true, 2, 3, 1, 3, 1},
		{"GRU 3 layers", true, 2, 3, 3, 2, 2},
	}
	for _, c := range cases {
		var m Module
		if c.gru {
			m = NewGRU(rng, c.in, c.hidden, c.layers)
		} else {
			m = NewLSTM(rng, c.in, c.hidden, c.layers)
		}
		checkGrads(t, gradCase{name: c.name, m: m, x: tensor.Randn(rng, 1, c.n, c.t, c.in), probes: 40})
	}
}

func TestRNNMatchesPyTorch(t *testing.T) {
	// Reference: torch.nn.LSTM / GRU (3, 4, num_layers=2, batch_first=True)
	// in float64, the p-th parameter in named_parameters order filled with
	// 0.4 sin(0.7 i + p), x[i] = sin(0.5 i) for x [2, 3, 3], and the loss
	// Σ y·r with r[i] = cos(0.3 i).
	cases := []struct {
		name                 string
		m                    Module
		y, dx, dwhh0, dbiasI []float64
	}{
		{"LSTM", NewLSTM(rand.New(rand.NewPCG(1, 1)), 3, 4, 2),
			[]float64{-0.070910246, 0.0358975902, 0.128371303, 0.131308055, -0.138468513, 0.073384882, 0.166636674, 0.163576817, -0.183465542, 0.0907205043, 0.182757452, 0.169319962, -0.101197462, 0.0593851786, 0.125136058, 0.127487396, -0.155678776, 0.0819960705, 0.166207499, 0.16245832, -0.19413897, 0.103440174, 0.173216882, 0.175061103},
			[]float64{-0.00206575561, -0.000677792183, 0.0010289475, 0.000107996066, -0.00111095315, -0.00180740374, -6.75716011e-06, -0.00311542145, -0.00475885435, -0.00110268079, -0.00213130767, -0.00215754725, -0.000349927629, 0.00197548399, 0.00337179462, -0.00244467672, -0.00268676925, -0.00166523222},
			[]float64{-5.37983789e-05, -0.000464494001, -0.000125836679, 0.000829253968, 0.000409450728, 0.000130591174, -0.000254860291, -0.00019878922},
			[]float64{-0.0427026214, 0.0177579213, 0.0262256458, 0.0269828807, -0.0236936369, 0.0122482772, 0.00672887182, 0.00166553298}},
		{"GRU", NewGRU(rand.New(rand.NewPCG(1, 1)), 3, 4, 2),
			[]float64{-0.0403240229, -0.0861275218, 0.326689054, 0.312508463, -0.112463159, -0.0756838274, 0.458737358, 0.37373487, -0.135763294, -0.0729564891, 0.496752754, 0.406617074, -0.0695667054, -0.0466323662, 0.305643526, 0.332033385, -0.123882659, -0.0484367112, 0.429880177, 0.411021975, -0.181203337, -0.0376123689, 0.485623161, 0.405110372},
			[]float64{-0.00377826015, -0.00819745238, -0.00876125467, 0.0188858675, 0.00867471294, -0.00561629463, 0.0128326545, 0.00526122801, -0.00478463618, -0.00262405421, -0.00173917617, -3.63364098e-05, -0.0202365236, -0.00804439419, 0.00793113954, -0.0127773004, -0.00924834171, -0.00136974339},
			[]float64{0.000355048046, -4.4526594e-05, -0.000125840097, 0.000149384492, -0.000461951871, 0.00192891128, 0.000263827158, -0.00112540549},
			[]float64{-0.0215682648, 0.050472648, 0.0294404944, 0.0232877396, 0.0304038267, 0.0187679351, -0.0763381837, -0.0442452269}},
	}
	for _, c := range cases {
		grads := map[string]*Param{}
		want := []string{"weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0", "weight_ih_l1", "weight_hh_l1", "bias_ih_l1", "bias_hh_l1"}
		p := 0
		Walk(c.m, func(name string, pr *Param) {
			if p >= len(want) || name != want[p] {
				t.Fatalf("%s: parameter %d is %q, want order %v", c.name, p, name, want)
			}
			for i := range pr.Value.Data {
				pr.Value.Data[i] = float32(0.4 * math.Sin(0.7*float64(i)+float64(p)))
			}
			grads[name] = pr
			p++
		})
		x, r := tensor.New(2, 3, 3), tensor.New(2, 3, 4)
		for i := range x.Data {
			x.Data[i] = float32(math.Sin(0.5 * float64(i)))
		}
		for i := range r.Data {
			r.Data[i] = float32(math.Cos(0.3 * float64(i)))
		}
		y := c.m.Forward(x)
		dx := c.m.Backward(r)
		compare := func(what string, got []float32, want []float64) {
			for i, w := range want {
				if math.Abs(float64(got[i])-w) > 1e-5*math.Abs(w)+2e-7 {
					t.Errorf("%s: %s[%d] = %.9g, want %.9g", c.name, what, i, got[i], w)
				}
			}
		}
		compare("y", y.Data, c.y)
		compare("dx", dx.Data, c.dx)
		compare("weight_hh_l0.grad", grads["weight_hh_l0"].Grad.Data, c.dwhh0)
		compare("bias_ih_l1.grad", grads["bias_ih_l1"].Grad.Data, c.dbiasI)
	}
}

func TestRNNInit(t *testing.T) {
	m := NewLSTM(rand.New(rand.NewPCG(81, 1)), 5, 16, 2)
	bound := float32(1 / math.Sqrt(16))
	shapes := map[string][]int{"weight_ih_l0": {64, 5}, "weight_hh_l0": {64, 16}, "bias_ih_l0": {64}, "weight_ih_l1": {64, 16}}
	Walk(m, func(name string, p *Param) {
		if s, ok := shapes[name]; ok && !tensor.SameShape(p.Value, tensor.New(s...)) {
			t.Errorf("%s shape %v, want %v", name, p.Value.Shape, s)
		}
		for _, v := range p.Value.Data {
			if v < -bound || v > bound {
				t.Fatalf("%s value %g outside ±%g", name, v, bound)
			}
		}
	})
	g := NewGRU(rand.New(rand.NewPCG(81, 1)), 5, 16, 1)
	if s := g.Params()[1].Value.Shape; s[0] != 48 || s[1] != 16 {
		t.Errorf("GRU weight_hh_l0 shape %v, want [48 16]", s)
	}
}

func TestRNNPerSample(t *testing.T) {
	rng := rand.New(rand.NewPCG(82, 1))
	for _, gru := range []bool{false, true} {
		for _, c := range [][5]int{{3, 4, 3, 4, 2}, {2, 1, 2, 3, 1}, {2, 3, 24, 24, 1}} { // n, t, in, hidden, layers
			var m interface {
				Module
				PerSampler
			}
			if gru {
				m = NewGRU(rng, c[2], c[3], c[4])
			} else {
				m = NewLSTM(rng, c[2], c[3], c[4])
			}
			x, dy := tensor.Randn(rng, 1, c[0], c[1], c[2]), tensor.Randn(rng, 1, c[0], c[1], c[3])
			want := explicitPerSample(m, x, dy)
			m.Forward(x)
			m.Backward(dy)
			got := make([]float64, c[0])
			m.AddPerSampleGradSq(got)
			for i := range got {
				if math.Abs(got[i]-want[i]) > 1e-4*want[i]+1e-7 {
					t.Errorf("gru=%v %v: sample %d: %g, want %g", gru, c, i, got[i], want[i])
				}
			}
		}
	}
}

func TestRNNAllocs(t *testing.T) {
	rng := rand.New(rand.NewPCG(83, 1))
	for _, m := range []Module{NewLSTM(rng, 4, 8, 2), NewGRU(rng, 4, 8, 2)} {
		x, dy := tensor.Randn(rng, 1, 3, 5, 4), tensor.Randn(rng, 1, 3, 5, 8)
		a := testing.AllocsPerRun(10, func() { m.Forward(x); m.Backward(dy) })
		// Per layer and step, a worker-pool closure or two; no buffers.
		if a > 2*2*5*3 {
			t.Errorf("%T: %.0f allocations per forward+backward", m, a)
		}
	}
}

// BenchmarkLSTM times a forward and backward of one LSTM layer (64 hidden
// units, 32 inputs) over batch 32: sub-benchmarks for one step (T=1) and a
// 16-step sequence.
func BenchmarkLSTM(b *testing.B) {
	for _, steps := range []int{1, 16} {
		b.Run(map[int]string{1: "T=1", 16: "T=16"}[steps], func(b *testing.B) {
			rng := rand.New(rand.NewPCG(84, 1))
			m := NewLSTM(rng, 32, 64, 1)
			x, dy := tensor.Randn(rng, 1, 32, steps, 32), tensor.Randn(rng, 1, 32, steps, 64)
			b.ReportAllocs()
			for b.Loop() {
				m.Forward(x)
				m.Backward(dy)
			}
		})
	}
}

func ExampleNewLSTM() {
	// A sequence classifier: a 2-layer LSTM over 5 steps of 3 features, the
	// last step's hidden state, and a linear head to 4 classes.
	rng := rand.New(rand.NewPCG(1, 2))
	net := NewSequential(NewLSTM(rng, 3, 8, 2), &LastStep{}, NewLinear(rng, 8, 4, true))
	x := tensor.Randn(rng, 1, 2, 5, 3) // [N, T, features]
	logits := net.Forward(x)
	fmt.Println(logits.Shape)
	Walk(net, func(name string, p *Param) {
		if strings.HasSuffix(name, "_l1") || strings.HasPrefix(name, "2.") {
			fmt.Println(name, p.Value.Shape)
		}
	})
	// Output:
	// [2 4]
	// 0.weight_ih_l1 [32 8]
	// 0.weight_hh_l1 [32 8]
	// 0.bias_ih_l1 [32]
	// 0.bias_hh_l1 [32]
	// 2.weight [4 8]
	// 2.bias [4]
}
