package optim

import (
	"math"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deepscope/deepscope/nn"
	"github.com/deepscope/deepscope/tensor"
)

// toy is a module that only owns parameters.
type toy struct{ ps []*nn.Param }

func (m *toy) Forward(x *tensor.Tensor) *tensor.Tensor   { return x }
func (m *toy) Backward(dy *tensor.Tensor) *tensor.Tensor { return dy }
func (m *toy) Params() []*nn.Param                       { return m.ps }

// newToy returns a module with one parameter "w" holding vals and a buffer,
// which optimizers must leave alone.
func newToy(vals ...float32) *toy {
	return &toy{ps: []*nn.Param{
		nn.NewParam("w", tensor.FromSlice(append([]float32(nil), vals...), len(vals))),
		nn.NewBuffer("running_mean", tensor.Full(7, 2)),
	}}
}

// The gradients of the three steps.
var grads = [3][2]float32{{0.5, -1.0}, {0.25, 2.0}, {-1.5, 0.1}}

type optCase struct {
	name string
	make func(nn.Module) (Optimizer, error)
	want [3][2]float64 // parameter after each step, from PyTorch's formulas
}

// optCases start from w = [1, -2]. The wanted values are PyTorch's (torch
// 1.13, float32). By hand for "sgd momentum": step 1, g = [0.5, -1] +
// 0.01·[1, -2] = [0.51, -1.02], buf = g, w = [0.949, -1.898]; step 2,
// g = [0.25949, 1.98102], buf = 0.9·buf + 0.9·g = [0.692541, 0.864918],
// w = [0.8797459, -1.9844918].
var optCases = []optCase{
	{"sgd", func(m nn.Module) (Optimizer, error) { return NewSGD(m, SGDConfig{LR: 0.1}) },
		[3][2]float64{{0.95, -1.9}, {0.925, -2.1}, {1.075, -2.11}}},
	{"sgd momentum", func(m nn.Module) (Optimizer, error) {
		return NewSGD(m, SGDConfig{LR: 0.1, Momentum: 0.9, Dampening: 0.1, WeightDecay: 0.01})
	}, [3][2]float64{{0.949, -1.898}, {0.8797459006309509, -1.9844918251037598}, {0.9516254663467407, -2.0695483684539795}}},
	{"sgd nesterov", func(m nn.Module) (Optimizer, error) {
		return NewSGD(m, SGDConfig{LR: 0.1, Momentum: 0.9, Nesterov: true, WeightDecay: 0.01})
	}, [3][2]float64{{0.9031000137329102, -1.8062000274658203}, {0.8125741481781006, -2.1001482009887695}, {1.0378696918487549, -2.2013368606567383}}},
	{"adam", func(m nn.Module) (Optimizer, error) { return NewAdam(m, AdamConfig{LR: 0.01}) },
		[3][2]float64{{0.99, -1.99}, {0.9806782007217407, -1.9936610460281372}, {0.9841504096984863, -1.9967738389968872}}},
	{"adam l2", func(m nn.Module) (Optimizer, error) {
		return NewAdam(m, AdamConfig{LR: 0.01, Beta1: 0.8, Beta2: 0.99, Eps: 1e-6, WeightDecay: 0.1})
	}, [3][2]float64{{0.99, -1.99}, {0.980604887008667, -1.993050217628479}, {0.9839460253715515, -1.9949321746826172}}},
	{"adamw", func(m nn.Module) (Optimizer, error) { return NewAdamW(m, AdamConfig{LR: 0.01, WeightDecay: 0.1}) },
		[3][2]float64{{0.9890000224113464, -1.9880000352859497}, {0.9786892533302307, -1.989673137664795}, {0.9811828136444092, -1.9907963275909424}}},
}

// near reports whether float32 results agree to a few units in the last place.
func near(got float32, want float64) bool {
	return math.Abs(float64(got)-want) <= 4e-7*math.Max(1, math.Abs(want))
}

func TestOptimizersMatchPyTorch(t *testing.T) {
	for _, c := range optCases {
		m := newToy(1, -2)
		o, err := c.make(m)
		if err != nil {
			t.Fatal(err)
		}
		w := m.ps[0]
		for s, g := range grads {
			copy(w.Grad.Data, g[:])
			o.Step()
			if !near(w.Value.Data[0], c.want[s][0]) || !near(w.Value.Data[1], c.want[s][1]) {
				t.Errorf("%s step %d: w = %v, want %v", c.name, s+1, w.Value.Data, c.want[s])
			}
		}
		if m.ps[1].Value.Data[0] != 7 {
			t.Errorf("%s changed a buffer", c.name)
		}
		o.ZeroGrad()
		if w.Grad.Data[0] != 0 || w.Grad.Data[1] != 0 {
			t.Errorf("%s: ZeroGrad left %v", c.name, w.Grad.Data)
		}
	}
}

// TestChunksAndThreads runs each case on a parameter big enough to be split
// into chunks and spread over threads: every element pair must follow the
// two-element trajectory exactly.
func TestChunksAndThreads(t *testing.T) {
	defer tensor.SetThreads(tensor.Threads())
	tensor.SetThreads(2)
	const pairs = chunkSize + 123 // over serialBelow elements, three chunks
	for _, c := range optCases {
		small, big := newToy(1, -2), newToy(make([]float32, 2*pairs)...)
		for i := 0; i < pairs; i++ {
			big.ps[0].Value.Data[2*i], big.ps[0].Value.Data[2*i+1] = 1, -2
		}
		os, _ := c.make(small)
		ob, _ := c.make(big)
		for _, g := range grads {
			copy(small.ps[0].Grad.Data, g[:])
			for i := 0; i < pairs; i++ {
				copy(big.ps[0].Grad.Data[2*i:], g[:])
			}
			os.Step()
			ob.Step()
		}
		for i, v := range big.ps[0].Value.Data {
			if v != small.ps[0].Value.Data[i%2] {
				t.Fatalf("%s: element %d = %v, want %v", c.name, i, v, small.ps[0].Value.Data[i%2])
			}
		}
	}
}

func TestSkipNoDecay(t *testing.T) {
	configs := []struct {
		name string
		make func(m nn.Module, wd float64, skip bool) (Optimizer, error)
	}{
		{"sgd", func(m nn.Module, wd float64, skip bool) (Optimizer, error) {
			return NewSGD(m, SGDConfig{LR: 0.1, Momentum: 0.9, WeightDecay: wd, SkipNoDecay: skip})
		}},
		{"adam", func(m nn.Module, wd float64, skip bool) (Optimizer, error) {
			return NewAdam(m, AdamConfig{LR: 0.01, WeightDecay: wd, SkipNoDecay: skip})
		}},
		{"adamw", func(m nn.Module, wd float64, skip bool) (Optimizer, error) {
			return NewAdamW(m, AdamConfig{LR: 0.01, WeightDecay: wd, SkipNoDecay: skip})
		}},
	}
	for _, c := range configs {
		// Parameter 0 decays, parameter 1 is a NoDecay bias.
		two := func() *toy {
			m := &toy{ps: []*nn.Param{
				nn.NewParam("weight", tensor.FromSlice([]float32{1, -2}, 2)),
				nn.NewParam("bias", tensor.FromSlice([]float32{1, -2}, 2)),
			}}
			m.ps[1].NoDecay = true
			return m
		}
		skip, decayAll, none := two(), two(), two()
		o1, _ := c.make(skip, 0.1, true)
		o2, _ := c.make(decayAll, 0.1, false)
		o3, _ := c.make(none, 0, false)
		for _, g := range grads {
			for _, m := range []*toy{skip, decayAll, none} {
				copy(m.ps[0].Grad.Data, g[:])
				copy(m.ps[1].Grad.Data, g[:])
			}
			o1.Step()
			o2.Step()
			o3.Step()
		}
		for i := range 2 {
			if skip.ps[0].Value.Data[i] != decayAll.ps[0].Value.Data[i] {
				t.Errorf("%s: decayed weight %v, want %v", c.name, skip.ps[0].Value.Data, decayAll.ps[0].Value.Data)
			}
			if skip.ps[1].Value.Data[i] != none.ps[1].Value.Data[i] {
				t.Errorf("%s: NoDecay bias %v, want the undecayed %v", c.name, skip.ps[1].Value.Data, none.ps[1].Value.Data)
			}
			if decayAll.ps[1].Value.Data[i] == none.ps[1].Value.Data[i] {
				t.Errorf("%s: without SkipNoDecay the bias was not decayed", c.name)
			}
		}
	}
}

func TestConfigErrors(t *testing.T) {
	m := newToy(1, 2)
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"negative lr", second(NewSGD(m, SGDConfig{LR: -1})), "learning rate -1"},
		{"NaN momentum", second(NewSGD(m, SGDConfig{LR: 1, Momentum: math.NaN()})), "momentum NaN"},
		{"nesterov without momentum", second(NewSGD(m, SGDConfig{LR: 1, Nesterov: true})), "Nesterov"},
		{"nesterov with dampening", second(NewSGD(m, SGDConfig{LR: 1, Momentum: 0.9, Dampening: 0.1, Nesterov: true})), "Nesterov"},
		{"beta1", second(NewAdam(m, AdamConfig{LR: 1, Beta1: 1})), "betas (1, 0.999)"},
		{"beta2", second(NewAdamW(m, AdamConfig{LR: 1, Beta2: -0.5})), "AdamW: betas"},
		{"weight decay", second(NewAdamW(m, AdamConfig{LR: 1, WeightDecay: math.Inf(1)})), "weight decay +Inf"},
	}
	for _, c := range tests {
		if c.err == nil || !strings.Contains(c.err.Error(), c.want) || !strings.HasPrefix(c.err.Error(), "optim: ") {
			t.Errorf("%s: error %v, want one containing %q", c.name, c.err, c.want)
		}
	}
}

func second[T any](_ T, err error) error { return err }

// TestResume interrupts a run after a few steps, saves the model and the
// optimizer to one safetensors file, builds everything anew from it, and
// checks the resumed run matches the uninterrupted one bit for bit.
func TestResume(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ckpt.safetensors")
	for _, c := range optCases {
		rng := rand.New(rand.NewPCG(3, 4))
		gs := make([][2]float32, 8)
		for i := range gs {
			gs[i] = [2]float32{float32(rng.NormFloat64()), float32(rng.NormFloat64())}
		}
		full := newToy(1, -2)
		of, _ := c.make(full)
		resumed := newToy(1, -2)
		or, _ := c.make(resumed)
		for i, g := range gs {
			if i == 4 {
				// Checkpoint, then restore into a fresh model and optimizer.
				state := append(nn.StateDict(resumed), prefixed("optim.", or.State())...)
				if err := nn.WriteStateFile(path, state, nil); err != nil {
					t.Fatal(err)
				}
				resumed = newToy(0, 0)
				or, _ = c.make(resumed)
				sd, _, err := nn.ReadStateFile(path)
				if err != nil {
					t.Fatal(err)
				}
				var model, opt []nn.NamedTensor
				for _, e := range sd {
					if name, ok := strings.CutPrefix(e.Name, "optim."); ok {
						opt = append(opt, nn.NamedTensor{Name: name, Value: e.Value, Int: e.Int})
					} else {
						model = append(model, e)
					}
				}
				if err := nn.LoadStateDict(resumed, model, true); err != nil {
					t.Fatal(err)
				}
				if err := or.LoadState(opt); err != nil {
					t.Fatalf("%s: %v", c.name, err)
				}
			}
			for _, m := range []*toy{full, resumed} {
				copy(m.ps[0].Grad.Data, g[:])
			}
			of.Step()
			or.Step()
		}
		for i, v := range full.ps[0].Value.Data {
			if math.Float32bits(v) != math.Float32bits(resumed.ps[0].Value.Data[i]) {
				t.Errorf("%s: resumed w = %v, uninterrupted %v", c.name, resumed.ps[0].Value.Data, full.ps[0].Value.Data)
				break
			}
		}
	}
}

func prefixed(p string, st []nn.NamedTensor) []nn.NamedTensor {
	out := make([]nn.NamedTensor, len(st))
	for i, e := range st {
		out[i] = nn.NamedTensor{Name: p + e.Name, Value: e.Value, Int: e.Int}
	}
	return out
}

func TestStateNames(t *testing.T) {
	tests := []struct {
		c     int // index into optCases
		names []string
	}{
		{0, []string{"step"}},
		{1, []string{"step", "momentum_buffer.w"}},
		{3, []string{"step", "exp_avg.w", "exp_avg_sq.w"}},
	}
	for _, c := range tests {
		m := newToy(1, 2)
		o, _ := optCases[c.c].make(m)
		if st := o.State(); len(st) != 1 || st[0].Name != "step" || !st[0].Int || st[0].Value.Data[0] != 0 {
			t.Errorf("%s: state before the first step = %v", optCases[c.c].name, st)
		}
		o.Step()
		o.Step()
		st := o.State()
		var got []string
		for _, e := range st {
			got = append(got, e.Name)
		}
		if strings.Join(got, " ") != strings.Join(c.names, " ") || st[0].Value.Data[0] != 2 {
			t.Errorf("%s: state %v (step %v), want %v", optCases[c.c].name, got, st[0].Value, c.names)
		}
	}
}

func TestLoadStateErrors(t *testing.T) {
	m := newToy(1, 2)
	o, _ := NewAdam(m, AdamConfig{LR: 0.1})
	copy(m.ps[0].Grad.Data, []float32{1, 1})
	o.Step()
	good := o.State()
	snapshot := func() []float32 { return append(append([]float32(nil), o.m[0].Data...), o.v[0].Data...) }
	before := snapshot()
	replace := func(name string, v *tensor.Tensor) []nn.NamedTensor {
		var st []nn.NamedTensor
		for _, e := range good {
			if e.Name == name {
				if v == nil {
					continue
				}
				e.Value = v
			}
			st = append(st, e)
		}
		return st
	}
	tests := []struct {
		name string
		st   []nn.NamedTensor
		want string
	}{
		{"missing moment", replace("exp_avg_sq.w", nil), "missing exp_avg_sq.w"},
		{"wrong shape", replace("exp_avg.w", tensor.Full(9, 3)), "exp_avg.w has shape [3]"},
		{"unexpected", append(replace("", nil), nn.NamedTensor{Name: "momentum_buffer.w", Value: tensor.New(2)}), "unexpected momentum_buffer.w"},
		{"no step", replace("step", nil), "missing step"},
		{"fractional step", replace("step", tensor.Full(1.5)), "not a count"},
		{"negative step", replace("step", tensor.Full(-1)), "not a count"},
		{"duplicate", append(replace("", nil), good[1]), "duplicate exp_avg.w"},
	}
	for _, c := range tests {
		err := o.LoadState(c.st)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
		if got := snapshot(); !equal(got, before) || o.step != 1 {
			t.Errorf("%s: failed load changed the state", c.name)
		}
	}
	// A state from before the first step resets the moments.
	if err := o.LoadState([]nn.NamedTensor{{Name: "step", Value: tensor.New(), Int: true}}); err != nil {
		t.Fatal(err)
	}
	if o.step != 0 || o.m[0].Data[0] != 0 || o.v[0].Data[0] != 0 {
		t.Errorf("loading step 0 left step %d, moments %v %v", o.step, o.m[0].Data, o.v[0].Data)
	}
}

func equal(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}

func TestLR(t *testing.T) {
	var o Optimizer
	o, _ = NewSGD(newToy(1, 2), SGDConfig{LR: 0.5})
	if o.LR() != 0.5 {
		t.Errorf("LR = %v, want 0.5", o.LR())
	}
	o.SetLR(0.25)
	m := o.Params()[0]
	copy(m.Grad.Data, []float32{1, 2})
	o.Step()
	if m.Value.Data[0] != 0.75 || m.Value.Data[1] != 1.5 || o.LR() != 0.25 {
		t.Errorf("after SetLR(0.25): w = %v, LR %v", m.Value.Data, o.LR())
	}
}
