package nn

import (
	"fmt"

	"github.com/deepscope/deepscope/tensor"
)

// Flatten reshapes [N, d1, d2, ...] to [N, d1·d2·...], like
// torch.nn.Flatten() (start_dim 1). The output is a view of the input and
// the input gradient a view of dy; nothing is copied. Note that a
// channels-last [N, H, W, C] map flattens in (h, w, c) order, not PyTorch's
// (c, h, w), so a Linear that follows has its columns permuted relative to
// a channels-first network.
type Flatten struct {
	in       []int // shape of the last input
	out, dx  tensor.Tensor
	outShape [2]int
	outStr   [2]int
	dxStr    []int
}

// NewFlatten returns a Flatten layer.
func NewFlatten() *Flatten { return &Flatten{} }

// Forward returns x viewed as [N, rest].
func (f *Flatten) Forward(x *tensor.Tensor) *tensor.Tensor {
	if x.Dims() < 1 {
		panic(fmt.Sprintf("nn: Flatten: input shape %v has no batch dimension", x.Shape))
	}
	x = x.Contiguous()
	f.in = append(f.in[:0], x.Shape...)
	n := x.Dim(0)
	rest := 1
	for _, d := range x.Shape[1:] {
		rest *= d
	}
	f.outShape, f.outStr = [2]int{n, rest}, [2]int{rest, 1}
	f.out = tensor.Tensor{Shape: f.outShape[:], Strides: f.outStr[:], Offset: x.Offset, Data: x.Data}
	return &f.out
}

// Backward returns dy viewed in the shape of the last input.
func (f *Flatten) Backward(dy *tensor.Tensor) *tensor.Tensor {
	if dy.Dims() != 2 || dy.Len() != numelOf(f.in) || (len(f.in) > 0 && dy.Dim(0) != f.in[0]) {
		panic(fmt.Sprintf("nn: Flatten: gradient shape %v does not match input %v", dy.Shape, f.in))
	}
	dy = dy.Contiguous()
	f.dxStr = append(f.dxStr[:0], f.in...)
	s := 1
	for i := len(f.in) - 1; i >= 0; i-- {
		f.dxStr[i] = s
		s *= f.in[i]
	}
	f.dx = tensor.Tensor{Shape: f.in, Strides: f.dxStr, Offset: dy.Offset, Data: dy.Data}
	return &f.dx
}

// LastStep keeps the last time step of a sequence, [N, T, H] → [N, H], as a
// sequence classifier does with the output of an LSTM or GRU.
type LastStep struct {
	t     int
	y, dx *tensor.Tensor
}

// Forward copies x[:, T−1, :].
func (l *LastStep) Forward(x *tensor.Tensor) *tensor.Tensor {
	if x.Dims() != 3 || x.Dim(1) == 0 {
		panic(fmt.Sprintf("nn: LastStep: input shape %v, want [N, T, H] with T > 0", x.Shape))
	}
	n, t, h := x.Dim(0), x.Dim(1), x.Dim(2)
	l.t = t
	xv := x.Contiguous().Values()
	y := tensor.Ensure(&l.y, n, h)
	for i := range n {
		copy(y.Data[i*h:(i+1)*h], xv[(i*t+t-1)*h:(i*t+t)*h])
	}
	return y
}

// Backward returns a [N, T, H] gradient that is dy at the last step and
// zero elsewhere.
func (l *LastStep) Backward(dy *tensor.Tensor) *tensor.Tensor {
	if l.y == nil || !tensor.SameShape(dy, l.y) {
		panic(fmt.Sprintf("nn: LastStep: gradient shape %v does not match the last Forward", dy.Shape))
	}
	n, h, t := dy.Dim(0), dy.Dim(1), l.t
	dx := tensor.Ensure(&l.dx, n, t, h)
	dx.Zero()
	dyv := dy.Contiguous().Values()
	for i := range n {
		copy(dx.Data[(i*t+t-1)*h:(i*t+t)*h], dyv[i*h:(i+1)*h])
	}
	return dx
}

func numelOf(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}
