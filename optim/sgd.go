package optim

import (
	"errors"
	"fmt"

	"github.com/deepscope/deepscope/nn"
	"github.com/deepscope/deepscope/tensor"
)

// SGDConfig configures NewSGD. Zero values are torch.optim.SGD's defaults.
type SGDConfig struct {
	LR          float64 // learning rate
	Momentum    float64 // momentum factor; 0 is plain SGD
	Dampening   float64 // dampening of the momentum's new gradient
	Nesterov    bool    // Nesterov momentum (needs Momentum > 0, Dampening 0)
	WeightDecay float64 // L2 penalty added to the gradient
	// SkipNoDecay exempts parameters marked NoDecay (biases, normalisation
	// scales and shifts) from weight decay.
	SkipNoDecay bool
}

// SGD is stochastic gradient descent with optional momentum, Nesterov
// momentum and weight decay, as torch.optim.SGD. For each parameter p with
// gradient g:
//
//	g = g + weight_decay*p
//	buf = g                                   (first step)
//	buf = momentum*buf + (1-dampening)*g      (later steps)
//	g = g + momentum*buf   (Nesterov)  or  g = buf
//	p = p - lr*g
type SGD struct {
	paramSet
	cfg SGDConfig
	buf []*tensor.Tensor // momentum buffers; nil without momentum

	// per-step scalars, in float32 as PyTorch's kernels use them
	wd, mom, damp1, negLR float32
	first                 bool
	kernel                func(lo, hi int) // o.update, bound once
}

// NewSGD returns an SGD optimizer for the trained parameters of m.
func NewSGD(m nn.Module, cfg SGDConfig) (*SGD, error) {
	for _, c := range []struct {
		name string
		v    float64
	}{{"learning rate", cfg.LR}, {"momentum", cfg.Momentum}, {"dampening", cfg.Dampening}, {"weight decay", cfg.WeightDecay}} {
		if err := checkNonNeg("SGD", c.name, c.v); err != nil {
			return nil, err
		}
	}
	if cfg.Nesterov && (cfg.Momentum <= 0 || cfg.Dampening != 0) {
		return nil, errors.New("optim: SGD: Nesterov momentum requires a momentum and zero dampening")
	}
	o := &SGD{paramSet: newParamSet(m, cfg.LR, cfg.SkipNoDecay), cfg: cfg}
	if cfg.Momentum != 0 {
		o.buf = o.buffers()
	}
	o.kernel = o.update
	return o, nil
}

// Step applies one update to every parameter.
func (o *SGD) Step() {
	o.mom, o.damp1, o.negLR = float32(o.cfg.Momentum), float32(1-o.cfg.Dampening), float32(-o.lr)
	o.wd = float32(o.cfg.WeightDecay)
	o.first = o.step == 0
	o.run(o.kernel)
	o.step++
}

// update runs the step on chunks lo..hi.
func (o *SGD) update(lo, hi int) {
	for _, c := range o.chunks[lo:hi] {
		p := o.params[c.p]
		w := p.Value.Values()[c.lo:c.hi]
		g := p.Grad.Values()[c.lo:c.hi]
		wd := o.wd
		if !o.decay[c.p] {
			wd = 0
		}
		if o.buf == nil {
			sgdPlain(w, g, wd, o.negLR)
			continue
		}
		b := o.buf[c.p].Values()[c.lo:c.hi]
		sgdMomentum(w, g, b, wd, o.mom, o.damp1, o.negLR, o.first, o.cfg.Nesterov)
	}
}

// sgdPlain is the update without momentum. The float32 conversions round
// every product, so no platform fuses a multiply-add and the result is the
// same everywhere.
func sgdPlain(w, g []float32, wd, negLR float32) {
	g = g[:len(w)]
	for i, gi := range g {
		if wd != 0 {
			gi += float32(wd * w[i])
		}
		w[i] += float32(negLR * gi)
	}
}

// sgdMomentum is the update with momentum buffer b: on the first step b
// takes the gradient, later it decays by mom and adds damp1 times it.
func sgdMomentum(w, g, b []float32, wd, mom, damp1, negLR float32, first, nesterov bool) {
	g, b = g[:len(w)], b[:len(w)]
	for i, gi := range g {
		if wd != 0 {
			gi += float32(wd * w[i])
		}
		bi := gi
		if !first {
			bi = float32(b[i]*mom) + float32(damp1*gi)
		}
		b[i] = bi
		if nesterov {
			gi += float32(mom * bi)
		} else {
			gi = bi
		}
		w[i] += float32(negLR * gi)
	}
}

// sgdKinds names SGD's per-parameter state as PyTorch does.
var sgdKinds = []string{"momentum_buffer"}

// State returns "step" and, with momentum, after the first step,
// "momentum_buffer.<param>" for every parameter.
func (o *SGD) State() []nn.NamedTensor {
	if o.buf == nil {
		return o.state(nil)
	}
	return o.state(sgdKinds, o.buf)
}

// LoadState restores a state saved by State.
func (o *SGD) LoadState(st []nn.NamedTensor) error {
	if o.buf == nil {
		return o.loadState(st, nil)
	}
	return o.loadState(st, sgdKinds, o.buf)
}

// String describes the optimizer and its settings.
func (o *SGD) String() string {
	return fmt.Sprintf("SGD(lr=%g, momentum=%g, dampening=%g, nesterov=%v, weight_decay=%g)",
		o.lr, o.cfg.Momentum, o.cfg.Dampening, o.cfg.Nesterov, o.cfg.WeightDecay)
}
