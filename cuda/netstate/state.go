// Package netstate keeps what a network on a CUDA device shares whatever
// its shape: the CPU model's parameters, gradients, batch-norm statistics
// and optimizer state on the device, the device memory and planned
// convolutions the network owns, and the copies both ways that keep the
// CPU model and optimizer the run's record (Load, Store).
//
// The networks themselves (packages cuda/resnet and cuda/unet) plan their
// layers on a State and run them; the optimizer update (Step) is the same
// float32 arithmetic as package optim's.
package netstate

import (
	"fmt"
	"math"
	"sort"

	"github.com/deepscope/deepscope/cuda"
	"github.com/deepscope/deepscope/nn"
	"github.com/deepscope/deepscope/optim"
	"github.com/deepscope/deepscope/tensor"
)

// entry is one parameter or buffer of the CPU model and where it lives on
// the device.
type entry struct {
	name    string
	p       *nn.Param
	view    cuda.Mem // in State.Params or State.buffers
	grad    cuda.Mem // in State.Grads; zero for buffers
	kernel  int      // for convolution weights: K, stored [A, K, K, B] for the CPU's [A, B, K, K]; else 0
	trained bool
}

// State is a CPU model's state on a device and the memory of the network
// that runs it. It is used by one goroutine at a time.
type State struct {
	D *cuda.Device
	// Params holds every trained parameter, those under weight decay
	// first; Grads their gradients in the same order.
	Params, Grads cuda.Mem

	entries []*entry
	byParam map[*nn.Param]*entry
	buffers cuda.Mem // running means and variances
	nDecay  int      // words of Params under weight decay
	bns     []*nn.BatchNorm2d
	tracked int64 // training forwards since the last Load

	opt   *Optimizer
	mems  []cuda.Mem // every allocation, for Close
	convs map[cuda.ConvShape]*cuda.Conv
	bnl   []*cuda.BatchNorm
	host  [][]float32
}

// New lays out m's parameters and buffers on d and copies them over.
// Convolution weights (nn.Conv2d, nn.ConvTranspose2d) are stored in cuDNN's
// channels-last filter layout.
func New(d *cuda.Device, m nn.Module) (*State, error) {
	s := &State{D: d, byParam: map[*nn.Param]*entry{}, convs: map[cuda.ConvShape]*cuda.Conv{}}
	if err := s.layout(m); err != nil {
		s.Close()
		return nil, err
	}
	if err := s.Load(); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// layout places every parameter and buffer of m in the flat device arrays.
func (s *State) layout(m nn.Module) error {
	var trained, buffers []*entry
	kernelOf := map[*nn.Param]int{}
	var visit func(m nn.Module)
	visit = func(m nn.Module) {
		switch l := m.(type) {
		case *nn.Conv2d:
			if c := l.Config(); c.Groups == 1 {
				kernelOf[l.Weight] = c.Kernel
			}
		case *nn.ConvTranspose2d:
			kernelOf[l.Weight] = l.Weight.Value.Dim(-1)
		case *nn.BatchNorm2d:
			s.bns = append(s.bns, l)
		}
		if p, ok := m.(nn.Parent); ok {
			for _, c := range p.Children() {
				visit(c.Module)
			}
		}
	}
	visit(m)
	nn.Walk(m, func(name string, p *nn.Param) {
		e := &entry{name: name, p: p, kernel: kernelOf[p], trained: p.Grad != nil}
		switch {
		case e.trained:
			trained = append(trained, e)
		case p.Int: // num_batches_tracked, counted on the host
			return
		default:
			buffers = append(buffers, e)
		}
		s.byParam[p] = e
	})
	// Weight decay applies to a whole leading range of Params, so an
	// optimizer step is one launch per group.
	sort.SliceStable(trained, func(i, j int) bool { return !trained[i].p.NoDecay && trained[j].p.NoDecay })
	words, decayWords := 0, 0
	for _, e := range trained {
		words += e.p.Value.Len()
		if !e.p.NoDecay {
			decayWords += e.p.Value.Len()
		}
	}
	bufWords := 0
	for _, e := range buffers {
		bufWords += e.p.Value.Len()
	}
	var err error
	if s.Params, err = s.Alloc(words); err != nil {
		return err
	}
	if s.Grads, err = s.Alloc(words); err != nil {
		return err
	}
	if s.buffers, err = s.Alloc(max(bufWords, 1)); err != nil {
		return err
	}
	s.nDecay = decayWords
	off := 0
	for _, e := range trained {
		k := e.p.Value.Len()
		e.view, e.grad = s.Params.Slice(off, off+k), s.Grads.Slice(off, off+k)
		off += k
	}
	off = 0
	for _, e := range buffers {
		k := e.p.Value.Len()
		e.view = s.buffers.Slice(off, off+k)
		off += k
	}
	s.entries = append(trained, buffers...)
	return nil
}

// Alloc returns n zeroed words of device memory that Close frees.
func (s *State) Alloc(words int) (cuda.Mem, error) {
	m, err := s.D.Alloc(words)
	if err == nil {
		s.mems = append(s.mems, m)
	}
	return m, err
}

// HostAlloc returns n float32s of page-locked host memory that Close
// frees, or nil when none could be had (uploads then go through pageable
// memory, synchronously).
func (s *State) HostAlloc(n int) []float32 {
	h, err := s.D.HostAlloc(n)
	if err != nil {
		return nil
	}
	s.host = append(s.host, h)
	return h
}

// Staging uploads batches through page-locked host memory, from which
// the device copies while the host goes on; where none could be had, the
// copy is from pageable memory and synchronous.
type Staging struct {
	d    *cuda.Device
	host []float32 // nil without page-locked memory
}

// Staging returns an uploader of up to n float32s at a time whose memory
// Close frees.
func (s *State) Staging(n int) *Staging {
	return &Staging{d: s.D, host: s.HostAlloc(n)}
}

// Upload queues a copy of v (at most the n the Staging was made for) to
// dst. It first waits for the device to finish what is queued, since the
// last copy may still be reading the staging memory.
func (u *Staging) Upload(dst cuda.Mem, v []float32) error {
	if u.host != nil {
		if err := u.d.Sync(); err != nil {
			return err
		}
		v = u.host[:copy(u.host, v)]
	}
	u.d.Upload(dst, v)
	return nil
}

// View returns where parameter p of the model lives on the device and its
// gradient (zero for buffers); ok is false for a parameter not in the
// model.
func (s *State) View(p *nn.Param) (value, grad cuda.Mem, ok bool) {
	e, ok := s.byParam[p]
	if !ok {
		return cuda.Mem{}, cuda.Mem{}, false
	}
	return e.view, e.grad, true
}

// Conv returns the planned convolution of shape sh, shared by every layer
// of that shape and destroyed by Close.
func (s *State) Conv(sh cuda.ConvShape) (*cuda.Conv, error) {
	if c, ok := s.convs[sh]; ok {
		return c, nil
	}
	c, err := s.D.NewConv(sh, true)
	if err != nil {
		return nil, err
	}
	s.convs[sh] = c
	return c, nil
}

// BatchNorm returns the device side of bn, whose parameters and running
// statistics live in the State; Close frees its scratch.
func (s *State) BatchNorm(bn *nn.BatchNorm2d) (*cuda.BatchNorm, error) {
	bw, bb := s.byParam[bn.Weight], s.byParam[bn.Bias]
	rm, rv := s.byParam[bn.RunningMean], s.byParam[bn.RunningVar]
	if bw == nil || bb == nil || rm == nil || rv == nil {
		return nil, fmt.Errorf("cuda: a batch norm that is not part of the model")
	}
	b, err := s.D.NewBatchNorm(bw.p.Value.Len(), bw.view, bb.view, bw.grad, bb.grad, rm.view, rv.view)
	if err != nil {
		return nil, err
	}
	b.Momentum, b.Eps = bn.Momentum, bn.Eps
	s.bnl = append(s.bnl, b)
	return b, nil
}

// Close frees the device memory, convolution plans and batch-norm scratch
// of the State; the Device stays open.
func (s *State) Close() {
	for _, c := range s.convs {
		c.Destroy(s.D)
	}
	for _, b := range s.bnl {
		b.Free(s.D)
	}
	for _, m := range s.mems {
		s.D.Free(m)
	}
	for _, h := range s.host {
		s.D.FreeHost(h)
	}
	s.convs, s.bnl, s.mems, s.host = nil, nil, nil, nil
}

// ZeroGrad zeroes the gradients (queued).
func (s *State) ZeroGrad() { s.D.Zero(s.Grads) }

// Tracked counts one training forward pass, which Store adds to every
// batch norm's num_batches_tracked.
func (s *State) Tracked() { s.tracked++ }

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
// the State was made from, built with the same settings as o: Store writes
// the device's state back into it.
func (s *State) SetOptimizer(o Optimizer, cpu optim.Optimizer) error {
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
	o.decayWords = s.nDecay
	if !o.SkipNoDecay {
		o.decayWords = s.Params.N
	}
	o.noDecayWords = s.Params.N - o.decayWords
	var err error
	if o.Kind != "sgd" || o.Momentum != 0 { // exp_avg or the momentum buffer
		if o.m, err = s.Alloc(s.Params.N); err != nil {
			return err
		}
	}
	if o.Kind != "sgd" { // exp_avg_sq
		if o.v, err = s.Alloc(s.Params.N); err != nil {
			return err
		}
	}
	s.opt = &o
	return s.loadOptimizer()
}

// HasOptimizer reports whether SetOptimizer was called.
func (s *State) HasOptimizer() bool { return s.opt != nil }

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

// Step applies the optimizer's update with learning rate lr to both
// parameter groups (queued). It panics before SetOptimizer.
func (s *State) Step(lr float64) {
	o := s.opt
	d := s.D
	groups := []struct {
		lo, hi int
		decay  bool
	}{{0, o.decayWords, true}, {o.decayWords, s.Params.N, false}}
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
			d.SGD(s.Params.Slice(g.lo, g.hi), s.Grads.Slice(g.lo, g.hi), buf, wd, float32(o.Momentum),
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
		st := cuda.AdamStep{DecayMul: 1, W1: float32(1 - o.Beta1), B2: float32(o.Beta2), OmB2: float32(1 - o.Beta2),
			BC2Sqrt: float32(math.Sqrt(bc2)), Eps: float32(o.Eps), NegStep: float32(-(lr / bc1))}
		if g.decay && o.WeightDecay != 0 {
			if o.Kind == "adamw" {
				st.DecayMul = float32(1 - lr*o.WeightDecay)
			} else {
				st.WD = float32(o.WeightDecay)
			}
		}
		d.Adam(s.Params.Slice(g.lo, g.hi), s.Grads.Slice(g.lo, g.hi), o.m.Slice(g.lo, g.hi), o.v.Slice(g.lo, g.hi), st)
	}
}

// Load copies the CPU model's parameters and running statistics (and the
// CPU optimizer's state, once set) to the device.
func (s *State) Load() error {
	for _, e := range s.entries {
		v := e.p.Value.Contiguous().Values()
		if e.kernel > 0 {
			sh := e.p.Value.Shape
			k := make([]float32, len(v))
			cuda.ToKRSC(k, v, sh[0], sh[1], e.kernel)
			v = k
		}
		s.D.Upload(e.view, v)
	}
	s.tracked = 0
	if s.opt != nil {
		if err := s.loadOptimizer(); err != nil {
			return err
		}
	}
	return s.D.Err()
}

// loadOptimizer copies the CPU optimizer's state to the device.
func (s *State) loadOptimizer() error {
	o := s.opt
	st := o.cpu.State()
	byName := map[string]*tensor.Tensor{}
	for _, t := range st {
		byName[t.Name] = t.Value
	}
	o.steps = int64(byName["step"].Data[byName["step"].Offset])
	for _, m := range o.bufs() {
		if m.Ptr != 0 {
			s.D.Zero(m)
		}
	}
	if o.steps == 0 {
		return s.D.Err()
	}
	for k, kind := range o.kinds() {
		for _, e := range s.entries {
			if !e.trained {
				continue
			}
			t, ok := byName[kind+"."+e.name]
			if !ok {
				return fmt.Errorf("cuda: optimizer state has no %s.%s", kind, e.name)
			}
			v := t.Contiguous().Values()
			if e.kernel > 0 {
				sh := e.p.Value.Shape
				kv := make([]float32, len(v))
				cuda.ToKRSC(kv, v, sh[0], sh[1], e.kernel)
				v = kv
			}
			off := int(e.view.Ptr-s.Params.Ptr) / 4
			s.D.Upload(o.bufs()[k].Slice(off, off+len(v)), v)
		}
	}
	return s.D.Err()
}

// Store copies the device's parameters, running statistics and optimizer
// state back into the CPU model and optimizer, so that the CPU's
// checkpoints, evaluation and histograms see the trained network.
func (s *State) Store() error {
	for _, e := range s.entries {
		v := make([]float32, e.view.N)
		if err := s.D.Download(v, e.view); err != nil {
			return err
		}
		dst := e.p.Value.Values()
		if e.kernel > 0 {
			sh := e.p.Value.Shape
			cuda.FromKRSC(dst, v, sh[0], sh[1], e.kernel)
		} else {
			copy(dst, v)
		}
	}
	for _, bn := range s.bns {
		bn.NumBatchesTracked.Value.Data[0] += float32(s.tracked)
	}
	s.tracked = 0
	if s.opt == nil {
		return nil
	}
	o := s.opt
	st := []nn.NamedTensor{{Name: "step", Value: tensor.Full(float32(o.steps)), Int: true}}
	if o.steps > 0 {
		for k, kind := range o.kinds() {
			for _, e := range s.entries {
				if !e.trained {
					continue
				}
				off := int(e.view.Ptr-s.Params.Ptr) / 4
				v := make([]float32, e.view.N)
				if err := s.D.Download(v, o.bufs()[k].Slice(off, off+e.view.N)); err != nil {
					return err
				}
				t := tensor.New(e.p.Value.Shape...)
				if e.kernel > 0 {
					sh := e.p.Value.Shape
					cuda.FromKRSC(t.Values(), v, sh[0], sh[1], e.kernel)
				} else {
					copy(t.Values(), v)
				}
				st = append(st, nn.NamedTensor{Name: kind + "." + e.name, Value: t})
			}
		}
	}
	return o.cpu.LoadState(st)
}
