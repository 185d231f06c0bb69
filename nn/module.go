// Package nn holds neural-network layers that own their parameters and know
// their own backward pass, and the models built from them.
//
// Every layer implements Module: Forward computes the output and caches what
// Backward needs; Backward takes the gradient of the loss with respect to
// that output, accumulates (+=) the gradients of the layer's parameters and
// returns the gradient with respect to the input. A layer's Forward and
// Backward sit side by side in one file. Because a layer caches its last
// input, a Module instance appears at most once in a network.
//
// Feature maps are channels-last, [N, H, W, C] (see package tensor).
// Parameters keep PyTorch's shapes and names (Conv2d weight [out, in/groups,
// kh, kw], Linear weight [out, in]), so a state dict moves between deepscope
// and PyTorch unchanged.
//
// Layers reuse their output and gradient buffers from one step to the next:
// the tensor returned by Forward or Backward is valid until the layer's next
// call.
package nn

import (
	"strconv"

	"github.com/deepscope/deepscope/tensor"
)

// Module is a layer or a network of layers.
type Module interface {
	// Forward computes the output for x, caching what Backward needs.
	Forward(x *tensor.Tensor) *tensor.Tensor
	// Backward takes dL/dy for the output of the last Forward, adds the
	// parameter gradients into each Param.Grad and returns dL/dx.
	Backward(dy *tensor.Tensor) *tensor.Tensor
}

// Param is a named tensor owned by a module: a trained parameter (Grad is
// non-nil) or a buffer such as BatchNorm's running mean (Grad is nil).
type Param struct {
	Name  string         // local name, e.g. "weight", "running_mean"
	Value *tensor.Tensor // the values, in PyTorch's shape
	Grad  *tensor.Tensor // same shape as Value; nil for buffers
	// Int marks buffers that PyTorch stores as int64, such as BatchNorm's
	// num_batches_tracked; they are kept as float32 here and written as I64.
	Int bool
	// NoDecay marks parameters that weight decay should skip by default
	// (biases and normalisation scales and shifts).
	NoDecay bool
}

// NewParam returns a trained parameter with a zeroed gradient of the same shape.
func NewParam(name string, v *tensor.Tensor) *Param {
	return &Param{Name: name, Value: v, Grad: tensor.New(v.Shape...)}
}

// NewBuffer returns an untrained buffer.
func NewBuffer(name string, v *tensor.Tensor) *Param {
	return &Param{Name: name, Value: v}
}

// Child is a named sub-module, as in PyTorch's named_children.
type Child struct {
	Name   string
	Module Module
}

// Parent is a module made of named sub-modules.
type Parent interface {
	Children() []Child
}

// Owner is a module that owns parameters or buffers directly.
type Owner interface {
	Params() []*Param
}

// Switcher is a module that behaves differently in training and evaluation
// (Dropout, BatchNorm).
type Switcher interface {
	SetTraining(training bool)
}

// Walk calls fn for every parameter and buffer of m and its descendants with
// its full dotted name ("layer1.0.conv1.weight"), in definition order.
func Walk(m Module, fn func(name string, p *Param)) {
	walk("", m, fn)
}

func walk(prefix string, m Module, fn func(string, *Param)) {
	if o, ok := m.(Owner); ok {
		for _, p := range o.Params() {
			fn(prefix+p.Name, p)
		}
	}
	if pa, ok := m.(Parent); ok {
		for _, c := range pa.Children() {
			walk(prefix+c.Name+".", c.Module, fn)
		}
	}
}

// Params returns the trained parameters of m (those with a gradient), in
// definition order.
func Params(m Module) []*Param {
	var ps []*Param
	Walk(m, func(_ string, p *Param) {
		if p.Grad != nil {
			ps = append(ps, p)
		}
	})
	return ps
}

// NumParams returns the number of trained scalar parameters of m.
func NumParams(m Module) int {
	n := 0
	for _, p := range Params(m) {
		n += p.Value.Len()
	}
	return n
}

// ZeroGrad sets every gradient of m to zero.
func ZeroGrad(m Module) {
	for _, p := range Params(m) {
		p.Grad.Zero()
	}
}

// SetTraining switches m and all its descendants between training (true)
// and evaluation (false) behaviour, like PyTorch's train() and eval().
func SetTraining(m Module, training bool) {
	if s, ok := m.(Switcher); ok {
		s.SetTraining(training)
	}
	if pa, ok := m.(Parent); ok {
		for _, c := range pa.Children() {
			SetTraining(c.Module, training)
		}
	}
}

// Sequential runs its children in order; its backward runs them in reverse.
// Children are named "0", "1", ... as in PyTorch's nn.Sequential.
type Sequential struct {
	Layers []Module
}

// NewSequential returns a Sequential of the given layers.
func NewSequential(layers ...Module) *Sequential { return &Sequential{Layers: layers} }

// Forward runs each layer on the previous one's output.
func (s *Sequential) Forward(x *tensor.Tensor) *tensor.Tensor {
	for _, l := range s.Layers {
		x = l.Forward(x)
	}
	return x
}

// Backward runs each layer's Backward in reverse order.
func (s *Sequential) Backward(dy *tensor.Tensor) *tensor.Tensor {
	for i := len(s.Layers) - 1; i >= 0; i-- {
		dy = s.Layers[i].Backward(dy)
	}
	return dy
}

// Children names the layers "0", "1", ...
func (s *Sequential) Children() []Child {
	cs := make([]Child, len(s.Layers))
	for i, l := range s.Layers {
		cs[i] = Child{Name: strconv.Itoa(i), Module: l}
	}
	return cs
}

// PerSampler is a module that reports per-sample gradient norms of its own
// parameters from its last Forward and Backward, without running the batch
// one sample at a time (DP-SGD clips each sample's gradient by this norm).
type PerSampler interface {
	// AddPerSampleGradSq adds, for each sample n of the last batch, the
	// squared L2 norm of sample n's gradient of this module's parameters
	// into sq[n]. len(sq) is the batch size.
	AddPerSampleGradSq(sq []float64)
}

// Seeder is a module that draws random numbers in training (Dropout). The
// training loop seeds every Seeder before each step from the run's seed and
// the step number, so a resumed run draws exactly the numbers an
// uninterrupted one would.
type Seeder interface {
	Seed(seed uint64)
}

// Seed calls Seed on every Seeder in m, giving each a distinct stream
// derived from seed and its position in the network.
func Seed(m Module, seed uint64) {
	i := uint64(0)
	var visit func(Module)
	visit = func(m Module) {
		if s, ok := m.(Seeder); ok {
			i++
			s.Seed(seed ^ (i * 0x9E3779B97F4A7C15))
		}
		if pa, ok := m.(Parent); ok {
			for _, c := range pa.Children() {
				visit(c.Module)
			}
		}
	}
	visit(m)
}
