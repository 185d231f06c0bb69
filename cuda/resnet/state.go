package resnet

import (
	"fmt"
	"math"

	"github.com/deepscope/deepscope/cuda"
	"github.com/deepscope/deepscope/nn"
	"github.com/deepscope/deepscope/optim"
	"github.com/deepscope/deepscope/tensor"
)

// Optimizer says which update Step applies, with package optim's meaning
// of each field (optim.AdamConfig, optim.SGDConfig); zero betas and eps
// take PyTorch's defaults.
type Optimizer struct {
	Kind                     string // "adamw", "adam" or "sgd"
	Beta1, Beta2, Eps        float64
	WeightDecay              float64
	Momentum, Dampening      float64
	Nesterov                 bool
	SkipNoDecay              bool // biases and normalisation parameters get no decay
	cpu                      optim.Optimizer
	m, v                     cuda.Mem // exp_avg and exp_avg_sq, or the momentum buffer in m
	steps                    int64
	decayWords, noDecayWords int
}

// SetOptimizer sets the update that Step applies and loads cpu's state (a
// fresh optimizer's is empty). cpu must be the optimizer of the CPU model
// the Net was made from, built with the same settings as o: Store writes
// the device's state back into it.
func (n *Net) SetOptimizer(o Optimizer, cpu optim.Optimizer) error {
	switch o.Kind {
	case "adam", "adamw":
		if o.Beta1 == 0 {
			o.Beta1 = 0.9
		}
		if o.Beta2 == 0 {
			o.Beta2 = 0.999
		}
		if o.Eps == 0 {
			o.Eps = 1e-8
		}
	case "sgd":
	default:
		return fmt.Errorf("cuda: optimizer %q: want adamw, adam or sgd", o.Kind)
	}
	o.cpu = cpu
	o.decayWords = n.nDecay
	if !o.SkipNoDecay {
		o.decayWords = n.params.N
	}
	o.noDecayWords = n.params.N - o.decayWords
	var err error
	if o.Kind != "sgd" || o.Momentum != 0 { // exp_avg or the momentum buffer
		if o.m, err = n.alloc(n.params.N); err != nil {
			return err
		}
	}
	if o.Kind != "sgd" { // exp_avg_sq
		if o.v, err = n.alloc(n.params.N); err != nil {
			return err
		}
	}
	n.opt = &o
	return n.loadOptimizer()
}

// kinds names the optimizer's state buffers as package optim does.
func (o *Optimizer) kinds() []string {
	switch {
	case o.Kind == "sgd" && o.m.Ptr != 0:
		return []string{"momentum_buffer"}
	case o.Kind == "sgd":
		return nil
	}
	return []string{"exp_avg", "exp_avg_sq"}
}

func (o *Optimizer) bufs() []cuda.Mem { return []cuda.Mem{o.m, o.v} }

// step applies the update with learning rate lr to both parameter groups.
func (o *Optimizer) step(n *Net, lr float64) {
	d := n.d
	groups := []struct {
		lo, hi int
		decay  bool
	}{{0, o.decayWords, true}, {o.decayWords, n.params.N, false}}
	if o.Kind == "sgd" {
		first := o.steps == 0
		for _, g := range groups {
			if g.hi == g.lo {
				continue
			}
			wd := float32(0)
			if g.decay {
				wd = float32(o.WeightDecay)
			}
			var buf cuda.Mem
			if o.m.Ptr != 0 {
				buf = o.m.Slice(g.lo, g.hi)
			}
			d.SGD(n.params.Slice(g.lo, g.hi), n.grads.Slice(g.lo, g.hi), buf, wd, float32(o.Momentum),
				float32(1-o.Dampening), float32(-lr), first, o.Nesterov)
		}
		o.steps++
		return
	}
	o.steps++
	t := float64(o.steps)
	bc1 := 1 - math.Pow(o.Beta1, t)
	bc2 := 1 - math.Pow(o.Beta2, t)
	for _, g := range groups {
		if g.hi == g.lo {
			continue
		}
		s := cuda.AdamStep{DecayMul: 1, W1: float32(1 - o.Beta1), B2: float32(o.Beta2), OmB2: float32(1 - o.Beta2),
			BC2Sqrt: float32(math.Sqrt(bc2)), Eps: float32(o.Eps), NegStep: float32(-(lr / bc1))}
		if g.decay && o.WeightDecay != 0 {
			if o.Kind == "adamw" {
				s.DecayMul = float32(1 - lr*o.WeightDecay)
			} else {
				s.WD = float32(o.WeightDecay)
			}
		}
		d.Adam(n.params.Slice(g.lo, g.hi), n.grads.Slice(g.lo, g.hi), o.m.Slice(g.lo, g.hi), o.v.Slice(g.lo, g.hi), s)
	}
}

// Load copies the CPU model's parameters and running statistics (and the
// CPU optimizer's state, once set) to the device.
func (n *Net) Load() error {
	for _, e := range n.entries {
		v := e.p.Value.Contiguous().Values()
		if e.kernel > 0 {
			s := e.p.Value.Shape
			k := make([]float32, len(v))
			cuda.ToKRSC(k, v, s[0], s[1], e.kernel)
			v = k
		}
		n.d.Upload(e.view, v)
	}
	n.tracked = 0
	if n.opt != nil {
		if err := n.loadOptimizer(); err != nil {
			return err
		}
	}
	return n.d.Err()
}

// loadOptimizer copies the CPU optimizer's state to the device.
func (n *Net) loadOptimizer() error {
	o := n.opt
	st := o.cpu.State()
	byName := map[string]*tensor.Tensor{}
	for _, t := range st {
		byName[t.Name] = t.Value
	}
	o.steps = int64(byName["step"].Data[byName["step"].Offset])
	for _, m := range o.bufs() {
		if m.Ptr != 0 {
			n.d.Zero(m)
		}
	}
	if o.steps == 0 {
		return n.d.Err()
	}
	for k, kind := range o.kinds() {
		for _, e := range n.entries {
			if !e.trained {
				continue
			}
			t, ok := byName[kind+"."+e.name]
			if !ok {
				return fmt.Errorf("cuda: optimizer state has no %s.%s", kind, e.name)
			}
			v := t.Contiguous().Values()
			if e.kernel > 0 {
				s := e.p.Value.Shape
				kv := make([]float32, len(v))
				cuda.ToKRSC(kv, v, s[0], s[1], e.kernel)
				v = kv
			}
			off := int(e.view.Ptr-n.params.Ptr) / 4
			n.d.Upload(o.bufs()[k].Slice(off, off+len(v)), v)
		}
	}
	return n.d.Err()
}

// Store copies the device's parameters, running statistics and optimizer
// state back into the CPU model and optimizer, so that the CPU's
// checkpoints, evaluation and histograms see the trained network.
func (n *Net) Store() error {
	for _, e := range n.entries {
		v := make([]float32, e.view.N)
		if err := n.d.Download(v, e.view); err != nil {
			return err
		}
		dst := e.p.Value.Values()
		if e.kernel > 0 {
			s := e.p.Value.Shape
			cuda.FromKRSC(dst, v, s[0], s[1], e.kernel)
		} else {
			copy(dst, v)
		}
	}
	for _, bn := range n.bns {
		bn.NumBatchesTracked.Value.Data[0] += float32(n.tracked)
	}
	n.tracked = 0
	if n.opt == nil {
		return nil
	}
	o := n.opt
	st := []nn.NamedTensor{{Name: "step", Value: tensor.Full(float32(o.steps)), Int: true}}
	if o.steps > 0 {
		for k, kind := range o.kinds() {
			for _, e := range n.entries {
				if !e.trained {
					continue
				}
				off := int(e.view.Ptr-n.params.Ptr) / 4
				v := make([]float32, e.view.N)
				if err := n.d.Download(v, o.bufs()[k].Slice(off, off+e.view.N)); err != nil {
					return err
				}
				t := tensor.New(e.p.Value.Shape...)
				if e.kernel > 0 {
					s := e.p.Value.Shape
					cuda.FromKRSC(t.Values(), v, s[0], s[1], e.kernel)
				} else {
					copy(t.Values(), v)
				}
				st = append(st, nn.NamedTensor{Name: kind + "." + e.name, Value: t})
			}
		}
	}
	return o.cpu.LoadState(st)
}

// Device returns the device the network runs on.
func (n *Net) Device() *cuda.Device { return n.d }
