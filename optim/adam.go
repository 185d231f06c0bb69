package optim

import (
	"fmt"
	"math"

	"github.com/deepscope/deepscope/nn"
	"github.com/deepscope/deepscope/tensor"
)

// AdamConfig configures NewAdam and NewAdamW. A zero Beta1, Beta2 or Eps
// means PyTorch's default (0.9, 0.999, 1e-8); a zero WeightDecay means
// none, for AdamW too (whose PyTorch default is 0.01).
type AdamConfig struct {
	LR          float64 // learning rate
	Beta1       float64 // decay of the running mean of the gradient
	Beta2       float64 // decay of the running mean of its square
	Eps         float64 // added to the denominator, after the square root
	WeightDecay float64 // L2 penalty (Adam) or decoupled decay (AdamW)
	// SkipNoDecay exempts parameters marked NoDecay (biases, normalisation
	// scales and shifts) from weight decay.
	SkipNoDecay bool
}

// Adam is the Adam optimizer, or AdamW when built by NewAdamW, as
// torch.optim.Adam and torch.optim.AdamW. At step t (from 1), for each
// parameter p with gradient g:
//
//	g = g + weight_decay*p            (Adam)
//	p = p * (1 - lr*weight_decay)     (AdamW)
//	m = m + (1-beta1)*(g - m)
//	v = beta2*v + (1-beta2)*g*g
//	p = p - lr/(1-beta1^t) * m / (sqrt(v)/sqrt(1-beta2^t) + eps)
type Adam struct {
	paramSet
	cfg       AdamConfig
	decoupled bool
	m, v      []*tensor.Tensor // exp_avg, exp_avg_sq

	// per-step scalars, in float32 as PyTorch's kernels use them
	wd, decayMul, w1, omw1, b2, omb2, bc2sqrt, eps, negStep float32
	kernel                                                  func(lo, hi int) // o.update, bound once
}

// NewAdam returns an Adam optimizer for the trained parameters of m, with
// weight decay added to the gradient as an L2 penalty.
func NewAdam(m nn.Module, cfg AdamConfig) (*Adam, error) { return newAdam(m, cfg, false) }

// NewAdamW returns an AdamW optimizer for the trained parameters of m:
// Adam with weight decay decoupled from the gradient.
func NewAdamW(m nn.Module, cfg AdamConfig) (*Adam, error) { return newAdam(m, cfg, true) }

func newAdam(mod nn.Module, cfg AdamConfig, decoupled bool) (*Adam, error) {
	name := "Adam"
	if decoupled {
		name = "AdamW"
	}
	if cfg.Beta1 == 0 {
		cfg.Beta1 = 0.9
	}
	if cfg.Beta2 == 0 {
		cfg.Beta2 = 0.999
	}
	if cfg.Eps == 0 {
		cfg.Eps = 1e-8
	}
	for _, c := range []struct {
		name string
		v    float64
	}{{"learning rate", cfg.LR}, {"eps", cfg.Eps}, {"weight decay", cfg.WeightDecay}} {
		if err := checkNonNeg(name, c.name, c.v); err != nil {
			return nil, err
		}
	}
	if !(cfg.Beta1 >= 0 && cfg.Beta1 < 1) || !(cfg.Beta2 >= 0 && cfg.Beta2 < 1) {
		return nil, fmt.Errorf("optim: %s: betas (%v, %v) must lie in [0, 1)", name, cfg.Beta1, cfg.Beta2)
	}
	o := &Adam{paramSet: newParamSet(mod, cfg.LR, cfg.SkipNoDecay), cfg: cfg, decoupled: decoupled}
	o.m, o.v = o.buffers(), o.buffers()
	o.kernel = o.update
	return o, nil
}

// Step applies one update to every parameter.
func (o *Adam) Step() {
	o.step++
	t := float64(o.step)
	c := &o.cfg
	bc1 := 1 - math.Pow(c.Beta1, t)
	bc2 := 1 - math.Pow(c.Beta2, t)
	o.wd = float32(c.WeightDecay)
	o.decayMul = float32(1 - o.lr*c.WeightDecay)
	o.w1 = float32(1 - c.Beta1)
	o.omw1 = 1 - o.w1
	o.b2, o.omb2 = float32(c.Beta2), float32(1-c.Beta2)
	o.bc2sqrt = float32(math.Sqrt(bc2))
	o.eps = float32(c.Eps)
	o.negStep = float32(-(o.lr / bc1))
	o.run(o.kernel)
}

// update runs the step on chunks lo..hi.
func (o *Adam) update(lo, hi int) {
	for _, c := range o.chunks[lo:hi] {
		p := o.params[c.p]
		w := p.Value.Values()[c.lo:c.hi]
		g := p.Grad.Values()[c.lo:c.hi]
		m := o.m[c.p].Values()[c.lo:c.hi]
		v := o.v[c.p].Values()[c.lo:c.hi]
		var wd float32 // L2 penalty
		decayMul := float32(1)
		if o.decay[c.p] && o.cfg.WeightDecay != 0 {
			if o.decoupled {
				decayMul = o.decayMul
			} else {
				wd = o.wd
			}
		}
		if o.w1 < 0.5 {
			adamKernel(w, g, m, v, wd, decayMul, o.w1, o.b2, o.omb2, o.bc2sqrt, o.eps, o.negStep)
		} else {
			adamKernelBigWeight(w, g, m, v, wd, decayMul, o.omw1, o.b2, o.omb2, o.bc2sqrt, o.eps, o.negStep)
		}
	}
}

// adamKernel updates w, m and v for gradients g, with PyTorch's
// exp_avg.lerp_(grad, w1) in its form for w1 < 0.5. Multiplying by
// decayMul = 1 changes nothing and wd = 0 adds nothing, so one loop serves
// Adam, AdamW and no decay. The float32 conversions round every product,
// so no platform fuses a multiply-add and the result is the same
// everywhere.
func adamKernel(w, g, m, v []float32, wd, decayMul, w1, b2, omb2, bc2sqrt, eps, negStep float32) {
	g, m, v = g[:len(w)], m[:len(w)], v[:len(w)]
	for i, gi := range g {
		wi := w[i]
		if wd != 0 {
			gi += float32(wd * wi)
		}
		wi *= decayMul
		mi := m[i] + float32(w1*(gi-m[i]))
		vi := float32(v[i]*b2) + float32(float32(omb2*gi)*gi)
		m[i], v[i] = mi, vi
		d := float32(float32(math.Sqrt(float64(vi)))/bc2sqrt) + eps
		w[i] = wi + float32(negStep*mi)/d
	}
}

// adamKernelBigWeight is adamKernel with lerp's form for weights of 0.5 and
// more (beta1 <= 0.5): m = g - (g-m)*(1-w1), where omw1 = 1-w1.
func adamKernelBigWeight(w, g, m, v []float32, wd, decayMul, omw1, b2, omb2, bc2sqrt, eps, negStep float32) {
	g, m, v = g[:len(w)], m[:len(w)], v[:len(w)]
	for i, gi := range g {
		wi := w[i]
		if wd != 0 {
			gi += float32(wd * wi)
		}
		wi *= decayMul
		mi := gi - float32((gi-m[i])*omw1)
		vi := float32(v[i]*b2) + float32(float32(omb2*gi)*gi)
		m[i], v[i] = mi, vi
		d := float32(float32(math.Sqrt(float64(vi)))/bc2sqrt) + eps
		w[i] = wi + float32(negStep*mi)/d
	}
}

// adamKinds names Adam's per-parameter state as PyTorch does.
var adamKinds = []string{"exp_avg", "exp_avg_sq"}

// State returns "step" and, after the first step, "exp_avg.<param>" and
// "exp_avg_sq.<param>" for every parameter.
func (o *Adam) State() []nn.NamedTensor { return o.state(adamKinds, o.m, o.v) }

// LoadState restores a state saved by State.
func (o *Adam) LoadState(st []nn.NamedTensor) error {
	// Before the first step PyTorch's moments are zeros; keep it so when a
	// state from step 0 is loaded into a used optimizer.
	if err := o.loadState(st, adamKinds, o.m, o.v); err != nil {
		return err
	}
	if o.step == 0 {
		for i := range o.m {
			o.m[i].Zero()
			o.v[i].Zero()
		}
	}
	return nil
}

// String describes the optimizer and its settings.
func (o *Adam) String() string {
	name := "Adam"
	if o.decoupled {
		name = "AdamW"
	}
	return fmt.Sprintf("%s(lr=%g, betas=(%g, %g), eps=%g, weight_decay=%g)", name, o.lr, o.cfg.Beta1, o.cfg.Beta2, o.cfg.Eps, o.cfg.WeightDecay)
}
