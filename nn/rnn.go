package nn

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/deepscope/deepscope/tensor"
)

// LSTM is a stack of long short-term memory layers over batch-first
// sequences, like torch.nn.LSTM(in, hidden, layers, batch_first=True) with a
// zero initial state: [N, T, in] → [N, T, hidden], the top layer's hidden
// state at every step (a classifier takes the last, see LastStep). Per layer
// k and step t, with gates in PyTorch's order i, f, g, o:
//
//	[i f g o] = x W_ih_kᵀ + b_ih_k + h W_hh_kᵀ + b_hh_k
//	c' = σ(f)·c + σ(i)·tanh(g),  h' = σ(o)·tanh(c')
//
// Parameters are weight_ih_l{k} [4H, in_k], weight_hh_l{k} [4H, H],
// bias_ih_l{k} and bias_hh_l{k} [4H], all initialised U(±1/√H). Backward
// runs backpropagation through time.
type LSTM struct{ rnn }

// GRU is a stack of gated recurrent unit layers over batch-first sequences,
// like torch.nn.GRU(in, hidden, layers, batch_first=True) with a zero initial
// state: [N, T, in] → [N, T, hidden]. Per layer and step, in PyTorch's gate
// order r, z, n:
//
//	r = σ(W_ir x + b_ir + W_hr h + b_hr),  z = σ(W_iz x + b_iz + W_hz h + b_hz)
//	n = tanh(W_in x + b_in + r·(W_hn h + b_hn)),  h' = (1 − z)·n + z·h
//
// Parameters are named as for LSTM with 3H rows instead of 4H.
type GRU struct{ rnn }

// NewLSTM returns an LSTM of layers layers from in features to hidden.
func NewLSTM(rng *rand.Rand, in, hidden, layers int) *LSTM {
	return &LSTM{newRNN("LSTM", rng, in, hidden, layers, 4)}
}

// NewGRU returns a GRU of layers layers from in features to hidden.
func NewGRU(rng *rand.Rand, in, hidden, layers int) *GRU {
	return &GRU{newRNN("GRU", rng, in, hidden, layers, 3)}
}

// Params returns weight_ih_l0, weight_hh_l0, bias_ih_l0, bias_hh_l0, then
// those of layer 1 and so on, PyTorch's order.
func (m *LSTM) Params() []*Param { return m.params }

// Forward runs the sequence x [N, T, in] through every layer.
func (m *LSTM) Forward(x *tensor.Tensor) *tensor.Tensor { return m.forward(x, lstmForward) }

// Backward backpropagates dy [N, T, hidden] through time and the layers.
func (m *LSTM) Backward(dy *tensor.Tensor) *tensor.Tensor { return m.backward(dy, lstmBackward) }

// AddPerSampleGradSq adds each sample's squared gradient norm of all the
// LSTM's parameters (see Linear's method: the weights are shared over
// steps exactly as a Linear's are over positions).
func (m *LSTM) AddPerSampleGradSq(sq []float64) { m.perSampleSq(sq) }

// Params returns the parameters in PyTorch's order (see LSTM.Params).
func (m *GRU) Params() []*Param { return m.params }

// Forward runs the sequence x [N, T, in] through every layer.
func (m *GRU) Forward(x *tensor.Tensor) *tensor.Tensor { return m.forward(x, gruForward) }

// Backward backpropagates dy [N, T, hidden] through time and the layers.
func (m *GRU) Backward(dy *tensor.Tensor) *tensor.Tensor { return m.backward(dy, gruBackward) }

// AddPerSampleGradSq adds each sample's squared gradient norm of all the
// GRU's parameters.
func (m *GRU) AddPerSampleGradSq(sq []float64) { m.perSampleSq(sq) }

// rnn is what LSTM and GRU share: the layer stack and its driver.
type rnn struct {
	InputSize, HiddenSize, NumLayers int

	kind   string
	gates  int // 4 for LSTM, 3 for GRU
	layers []*rnnLayer
	params []*Param
}

// rnnLayer is one layer's parameters and the caches of its last pass.
type rnnLayer struct {
	in, h, g           int // input size, hidden size, gates·hidden
	isGRU              bool
	fresh              bool // Backward has run since the last Forward
	wih, whh, bih, bhh *Param

	x      *tensor.Tensor // input [N, T, in]
	act    *tensor.Tensor // activated gates [N, T, g]
	c, tc  *tensor.Tensor // LSTM cell and tanh(cell) [N, T, h]
	hn     *tensor.Tensor // GRU W_hn h + b_hn [N, T, h]
	out    *tensor.Tensor // hidden states [N, T, h]
	hprev  *tensor.Tensor // hidden state entering each step [N, T, h]
	hh     *tensor.Tensor // GRU step scratch [N, g]
	dgx    *tensor.Tensor // dL/d(x-side pre-activations) [N, T, g]
	dgh    *tensor.Tensor // GRU dL/d(h-side pre-activations) [N, T, g]; LSTM uses dgx
	dh, dc *tensor.Tensor // gradients flowing to the previous step [N, h]
	dx     *tensor.Tensor
	s      [4]*tensor.Tensor // per-sample scratch
}

func newRNN(kind string, rng *rand.Rand, in, hidden, layers, gates int) rnn {
	if in <= 0 || hidden <= 0 || layers <= 0 {
		panic(fmt.Sprintf("nn: New%s(%d, %d, %d): sizes must be positive", kind, in, hidden, layers))
	}
	r := rnn{InputSize: in, HiddenSize: hidden, NumLayers: layers, kind: kind, gates: gates}
	bound := float32(1 / math.Sqrt(float64(hidden)))
	u := func(name string, k int, shape ...int) *Param {
		return NewParam(fmt.Sprintf("%s_l%d", name, k), tensor.Uniform(rng, -bound, bound, shape...))
	}
	g := gates * hidden
	for k := range layers {
		lin := in
		if k > 0 {
			lin = hidden
		}
		l := &rnnLayer{in: lin, h: hidden, g: g, isGRU: gates == 3,
			wih: u("weight_ih", k, g, lin), whh: u("weight_hh", k, g, hidden),
			bih: u("bias_ih", k, g), bhh: u("bias_hh", k, g)}
		l.bih.NoDecay, l.bhh.NoDecay = true, true
		r.layers = append(r.layers, l)
		r.params = append(r.params, l.wih, l.whh, l.bih, l.bhh)
	}
	return r
}

func (r *rnn) forward(x *tensor.Tensor, step func(l *rnnLayer, n, t int)) *tensor.Tensor {
	if x.Dims() != 3 || x.Dim(2) != r.InputSize {
		panic(fmt.Sprintf("nn: %s: input shape %v, want [N, T, %d]", r.kind, x.Shape, r.InputSize))
	}
	x = x.Contiguous()
	for _, l := range r.layers {
		l.forward(x, step)
		x = l.out
	}
	return x
}

func (r *rnn) backward(dy *tensor.Tensor, step func(l *rnnLayer, n, t int, dy []float32)) *tensor.Tensor {
	top := r.layers[len(r.layers)-1]
	if top.out == nil || !tensor.SameShape(dy, top.out) {
		panic(fmt.Sprintf("nn: %s: gradient shape %v does not match the last Forward", r.kind, dy.Shape))
	}
	dy = dy.Contiguous()
	for k := len(r.layers) - 1; k >= 0; k-- {
		dy = r.layers[k].backward(dy, step)
	}
	return dy
}

func (r *rnn) perSampleSq(sq []float64) {
	for _, l := range r.layers {
		if !l.fresh || l.x.Dim(0) != len(sq) {
			panic(fmt.Sprintf("nn: %s: per-sample norms for %d samples without a matching Backward", r.kind, len(sq)))
		}
		t := l.x.Dim(1)
		denseSampleSq(sq, l.x.Values(), l.dgx.Values(), t, l.in, l.g, true, useGhost(t, l.in, l.g), &l.s[0], &l.s[1])
		dgh := l.dgx
		if l.dgh != nil {
			dgh = l.dgh
		}
		denseSampleSq(sq, l.hprev.Values(), dgh.Values(), t, l.h, l.g, true, useGhost(t, l.h, l.g), &l.s[2], &l.s[3])
	}
}

// forward runs one layer over x [N, T, in]: the input projection for all
// steps in one product, then per step the recurrent product for the whole
// batch and the step's element-wise gate arithmetic.
func (l *rnnLayer) forward(x *tensor.Tensor, step func(l *rnnLayer, n, t int)) {
	n, t, h, g := x.Dim(0), x.Dim(1), l.h, l.g
	l.x = x
	act := tensor.Ensure(&l.act, n, t, g).Values()
	l.out = tensor.Ensure(&l.out, n, t, h)
	hprev := tensor.Ensure(&l.hprev, n, t, h).Values()
	var hh []float32
	if l.isGRU {
		tensor.Ensure(&l.hn, n, t, h)
		hh = tensor.Ensure(&l.hh, n, g).Values()
	} else {
		tensor.Ensure(&l.c, n, t, h)
		tensor.Ensure(&l.tc, n, t, h)
	}
	l.fresh = false // per-sample norms need a Backward of this pass
	denseForward(act, x.Values(), l.wih.Value.Values(), l.bih.Value.Values(), n*t, l.in, g)
	for b := range n {
		clear(hprev[b*t*h : b*t*h+h])
	}
	whh, bhh := l.whh.Value.Values(), l.bhh.Value.Values()
	for s := range t {
		// The state entering step s is zero for s = 0, so its product is
		// skipped. LSTM adds h W_hhᵀ into the gate pre-activations (b_hh
		// is added with the activation); GRU keeps h W_hhᵀ + b_hh apart,
		// because r multiplies its n part.
		switch {
		case l.isGRU:
			for b := range n {
				copy(hh[b*g:(b+1)*g], bhh)
			}
			if s > 0 {
				tensor.Gemm(false, true, n, g, h, 1, hprev[s*h:], t*h, whh, h, 1, hh, g)
			}
		case s > 0:
			tensor.Gemm(false, true, n, g, h, 1, hprev[s*h:], t*h, whh, h, 1, act[s*g:], t*g)
		}
		tensor.Parallel(n, max(1, 1024/g), func(lo, hi int) {
			for b := lo; b < hi; b++ {
				step(l, b, s)
			}
		})
	}
}

// backward runs backpropagation through time for one layer given dy, the
// gradient of its outputs, and returns the gradient of its input.
func (l *rnnLayer) backward(dy *tensor.Tensor, step func(l *rnnLayer, n, t int, dy []float32)) *tensor.Tensor {
	n, t, h, g := l.x.Dim(0), l.x.Dim(1), l.h, l.g
	dgx := tensor.Ensure(&l.dgx, n, t, g).Values()
	dgh := dgx
	if l.isGRU {
		dgh = tensor.Ensure(&l.dgh, n, t, g).Values()
	}
	dh := tensor.Ensure(&l.dh, n, h).Values()
	clear(dh)
	clear(tensor.Ensure(&l.dc, n, h).Values())
	dyv := dy.Values()
	whh := l.whh.Value.Values()
	for s := t - 1; s >= 0; s-- {
		tensor.Parallel(n, max(1, 1024/g), func(lo, hi int) {
			for b := lo; b < hi; b++ {
				step(l, b, s, dyv)
			}
		})
		if s > 0 {
			// dh gets the recurrent part: dL/dh_{s-1} += dgh_s W_hh. The
			// step function has set dh to the direct part (0 for LSTM).
			tensor.Gemm(false, false, n, h, g, 1, dgh[s*g:], t*g, whh, h, 1, dh, h)
		}
	}
	dx := tensor.Ensure(&l.dx, n, t, l.in)
	denseBackward(dx.Values(), l.wih.Grad.Values(), l.bih.Grad.Values(), dgx, l.x.Values(), l.wih.Value.Values(), n*t, l.in, g)
	denseBackward(nil, l.whh.Grad.Values(), l.bhh.Grad.Values(), dgh, l.hprev.Values(), whh, n*t, h, g)
	l.fresh = true
	return dx
}

// setHidden stores h as the output of sample b at step s and as the state
// entering step s+1.
func (l *rnnLayer) setHidden(b, s, j int, v float32) {
	t, h := l.out.Dim(1), l.h
	l.out.Data[(b*t+s)*h+j] = v
	if s+1 < t {
		l.hprev.Data[(b*t+s+1)*h+j] = v
	}
}

// lstmForward does the gate arithmetic of step s for sample b.
func lstmForward(l *rnnLayer, b, s int) {
	t, h, g := l.out.Dim(1), l.h, l.g
	a := l.act.Data[(b*t+s)*g : (b*t+s+1)*g]
	bhh := l.bhh.Value.Data
	c, tc := l.c.Data[(b*t+s)*h:(b*t+s+1)*h], l.tc.Data[(b*t+s)*h:(b*t+s+1)*h]
	for j := range h {
		i := sigmoid32(a[j] + bhh[j])
		f := sigmoid32(a[h+j] + bhh[h+j])
		gg := tanh32(a[2*h+j] + bhh[2*h+j])
		o := sigmoid32(a[3*h+j] + bhh[3*h+j])
		a[j], a[h+j], a[2*h+j], a[3*h+j] = i, f, gg, o
		cv := i * gg
		if s > 0 {
			cv += f * l.c.Data[(b*t+s-1)*h+j]
		}
		c[j] = cv
		tc[j] = tanh32(cv)
		l.setHidden(b, s, j, o*tc[j])
	}
}

// lstmBackward does step s of sample b backwards: from dh (the output
// gradient plus what step s+1 sent back) and dc to the gate gradients.
func lstmBackward(l *rnnLayer, b, s int, dy []float32) {
	t, h, g := l.out.Dim(1), l.h, l.g
	a := l.act.Data[(b*t+s)*g : (b*t+s+1)*g]
	d := l.dgx.Data[(b*t+s)*g : (b*t+s+1)*g]
	dh, dc := l.dh.Data[b*h:(b+1)*h], l.dc.Data[b*h:(b+1)*h]
	for j := range h {
		i, f, gg, o := a[j], a[h+j], a[2*h+j], a[3*h+j]
		tc := l.tc.Data[(b*t+s)*h+j]
		dhj := dy[(b*t+s)*h+j] + dh[j]
		dcj := dc[j] + dhj*o*(1-tc*tc)
		var cp float32
		if s > 0 {
			cp = l.c.Data[(b*t+s-1)*h+j]
		}
		d[j] = dcj * gg * i * (1 - i)
		d[h+j] = dcj * cp * f * (1 - f)
		d[2*h+j] = dcj * i * (1 - gg*gg)
		d[3*h+j] = dhj * tc * o * (1 - o)
		dc[j] = dcj * f
		dh[j] = 0 // the recurrent product adds dL/dh_{s-1}
	}
}

// gruForward does the gate arithmetic of step s for sample b.
func gruForward(l *rnnLayer, b, s int) {
	t, h, g := l.out.Dim(1), l.h, l.g
	a := l.act.Data[(b*t+s)*g : (b*t+s+1)*g]
	hh := l.hh.Data[b*g : (b+1)*g]
	hp := l.hprev.Data[(b*t+s)*h : (b*t+s+1)*h]
	hn := l.hn.Data[(b*t+s)*h : (b*t+s+1)*h]
	for j := range h {
		r := sigmoid32(a[j] + hh[j])
		z := sigmoid32(a[h+j] + hh[h+j])
		nv := tanh32(a[2*h+j] + r*hh[2*h+j])
		a[j], a[h+j], a[2*h+j] = r, z, nv
		hn[j] = hh[2*h+j]
		l.setHidden(b, s, j, (1-z)*nv+z*hp[j])
	}
}

// gruBackward does step s of sample b backwards.
func gruBackward(l *rnnLayer, b, s int, dy []float32) {
	t, h, g := l.out.Dim(1), l.h, l.g
	a := l.act.Data[(b*t+s)*g : (b*t+s+1)*g]
	dx, dh := l.dgx.Data[(b*t+s)*g:(b*t+s+1)*g], l.dgh.Data[(b*t+s)*g:(b*t+s+1)*g]
	dnext := l.dh.Data[b*h : (b+1)*h]
	hp := l.hprev.Data[(b*t+s)*h : (b*t+s+1)*h]
	hn := l.hn.Data[(b*t+s)*h : (b*t+s+1)*h]
	for j := range h {
		r, z, nv := a[j], a[h+j], a[2*h+j]
		dhj := dy[(b*t+s)*h+j] + dnext[j]
		dn := dhj * (1 - z) * (1 - nv*nv)
		dr := dn * hn[j] * r * (1 - r)
		dz := dhj * (hp[j] - nv) * z * (1 - z)
		dx[j], dx[h+j], dx[2*h+j] = dr, dz, dn
		dh[j], dh[h+j], dh[2*h+j] = dr, dz, dn*r
		dnext[j] = dhj * z // the recurrent product adds the rest
	}
}
