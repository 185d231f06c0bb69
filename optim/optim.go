// Package optim holds the optimizers (SGD, Adam, AdamW), gradient clipping
// and learning-rate schedules used to train deepscope's models.
//
// The optimizers follow torch.optim's single-tensor code: the same update
// formulas, in the same float32 operations and order, the same defaults and
// the same state ("momentum_buffer", "exp_avg", "exp_avg_sq", "step"). (Some
// of PyTorch's vectorised kernels fuse a multiply-add, so results can
// differ from PyTorch's in the last bit.) Their state is
// a list of named tensors ("exp_avg.layer1.0.conv1.weight"), so a checkpoint
// holds it in one safetensors file beside the model's state dict and a
// resumed run continues bit for bit.
//
// Schedules are pure functions from the optimizer step to a learning rate,
// stepped once per batch: the training loop calls SetLR(s.LR(step)) before
// each Step. Being stateless, a schedule needs nothing saved to resume.
//
// The update loops run over fixed chunks of the parameters on the tensor
// package's worker pool. Each element's update is independent of the
// others, so the result does not depend on the number of threads.
package optim

import (
	"fmt"
	"math"
	"strings"

	"github.com/deepscope/deepscope/nn"
	"github.com/deepscope/deepscope/tensor"
)

// Optimizer updates a model's parameters from their gradients.
type Optimizer interface {
	// Step updates every parameter from its gradient and the optimizer's
	// state.
	Step()
	// ZeroGrad sets every parameter's gradient to zero.
	ZeroGrad()
	// LR returns the current learning rate.
	LR() float64
	// SetLR sets the learning rate used by the following steps.
	SetLR(lr float64)
	// Params returns the parameters the optimizer updates, in the model's
	// definition order.
	Params() []*nn.Param
	// State returns the optimizer's state as named tensors: "step", the
	// number of steps taken (a scalar, stored as I64), and once a step has
	// been taken one buffer per parameter and kind, named kind + "." +
	// parameter name. The tensors share memory with the optimizer. The
	// learning rate is not part of the state: it comes from the schedule.
	State() []nn.NamedTensor
	// LoadState copies a state saved by State into the optimizer, which
	// must have been built for a model with the same parameter names and
	// shapes. On error nothing is changed.
	LoadState(state []nn.NamedTensor) error
}

// chunkSize is the largest number of elements in one unit of parallel work.
const chunkSize = 1 << 15

// serialBelow is the parameter count under which steps run on the calling
// goroutine: handing out work would cost more than it saves.
const serialBelow = 1 << 16

// chunk is a range of one parameter's elements, a unit of parallel work.
type chunk struct{ p, lo, hi int }

// paramSet is what every optimizer keeps about its parameters.
type paramSet struct {
	names  []string
	params []*nn.Param
	decay  []bool // whether weight decay applies to each parameter
	chunks []chunk
	total  int   // number of scalar parameters
	step   int64 // steps taken
	lr     float64
}

func newParamSet(m nn.Module, lr float64, skipNoDecay bool) paramSet {
	s := paramSet{lr: lr}
	nn.Walk(m, func(name string, p *nn.Param) {
		if p.Grad == nil {
			return // a buffer
		}
		i := len(s.params)
		s.names = append(s.names, name)
		s.params = append(s.params, p)
		s.decay = append(s.decay, !(skipNoDecay && p.NoDecay))
		n := p.Value.Len()
		for lo := 0; lo < n; lo += chunkSize {
			s.chunks = append(s.chunks, chunk{i, lo, min(lo+chunkSize, n)})
		}
		s.total += n
	})
	return s
}

// run calls fn on every chunk, in parallel when there is enough work.
func (s *paramSet) run(fn func(lo, hi int)) { forChunks(s.total, len(s.chunks), fn) }

// buffers returns one zeroed tensor per parameter, shaped like it.
func (s *paramSet) buffers() []*tensor.Tensor {
	bs := make([]*tensor.Tensor, len(s.params))
	for i, p := range s.params {
		bs[i] = tensor.New(p.Value.Shape...)
	}
	return bs
}

// LR returns the current learning rate.
func (s *paramSet) LR() float64 { return s.lr }

// SetLR sets the learning rate used by the following steps.
func (s *paramSet) SetLR(lr float64) { s.lr = lr }

// Params returns the parameters being optimized, in definition order.
func (s *paramSet) Params() []*nn.Param { return s.params }

// ZeroGrad sets every parameter's gradient to zero.
func (s *paramSet) ZeroGrad() {
	for _, p := range s.params {
		p.Grad.Zero()
	}
}

// state returns "step" and, after the first step, each kind of buffer for
// every parameter.
func (s *paramSet) state(kinds []string, bufs ...[]*tensor.Tensor) []nn.NamedTensor {
	st := []nn.NamedTensor{{Name: "step", Value: tensor.Full(float32(s.step)), Int: true}}
	if s.step == 0 {
		return st
	}
	for k, kind := range kinds {
		for i, name := range s.names {
			st = append(st, nn.NamedTensor{Name: kind + "." + name, Value: bufs[k][i]})
		}
	}
	return st
}

// loadState checks st against the names, kinds and shapes state would
// give, then copies it in.
func (s *paramSet) loadState(st []nn.NamedTensor, kinds []string, bufs ...[]*tensor.Tensor) error {
	given := make(map[string]*tensor.Tensor, len(st))
	var problems []string
	for _, t := range st {
		if _, dup := given[t.Name]; dup {
			problems = append(problems, "duplicate "+t.Name)
		}
		given[t.Name] = t.Value
	}
	var step int64
	if v, ok := given["step"]; !ok {
		problems = append(problems, "missing step")
	} else if v.Len() != 1 || v.Data[v.Offset] < 0 || v.Data[v.Offset] != float32(math.Round(float64(v.Data[v.Offset]))) {
		problems = append(problems, fmt.Sprintf("step %v is not a count", v))
	} else {
		step = int64(v.Data[v.Offset])
	}
	type pair struct{ dst, src *tensor.Tensor }
	var copies []pair
	used := map[string]bool{"step": true}
	if step > 0 {
		for k, kind := range kinds {
			for i, name := range s.names {
				key := kind + "." + name
				v, ok := given[key]
				used[key] = true
				switch {
				case !ok:
					problems = append(problems, "missing "+key)
				case !tensor.SameShape(v, bufs[k][i]):
					problems = append(problems, fmt.Sprintf("%s has shape %v, the parameter %v", key, v.Shape, bufs[k][i].Shape))
				default:
					copies = append(copies, pair{bufs[k][i], v})
				}
			}
		}
	}
	for _, t := range st {
		if !used[t.Name] {
			problems = append(problems, "unexpected "+t.Name)
			used[t.Name] = true
		}
	}
	if len(problems) > 0 {
		if len(problems) > 10 {
			problems = append(problems[:10], fmt.Sprintf("and %d more problems", len(problems)-10))
		}
		return fmt.Errorf("optim: loading state: %s", strings.Join(problems, "; "))
	}
	for _, c := range copies {
		c.dst.CopyFrom(c.src)
	}
	s.step = step
	return nil
}

// checkNonNeg returns an error unless v is a finite, non-negative number.
func checkNonNeg(opt, name string, v float64) error {
	if !(v >= 0) || math.IsInf(v, 1) {
		return fmt.Errorf("optim: %s: %s %v must be a non-negative number", opt, name, v)
	}
	return nil
}
