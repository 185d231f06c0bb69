// Package tensor holds deepscope's dense float32 arrays and the kernels that
// work on them: matrix multiplication, convolution lowering, reductions and
// element-wise operations.
//
// A Tensor is a shape, strides and a flat []float32. Tensors made by New are
// contiguous and row-major; Permute and Reshape give views that share data.
// Kernels take contiguous tensors (or raw slices) and panic, with a message
// prefixed "tensor: ", on mismatched shapes: those are programmer errors, not
// user errors.
//
// Images and feature maps are stored channels-last, [N, H, W, C], the layout
// PyTorch calls channels_last: a 1x1 convolution is then a plain matrix
// product and im2col copies contiguous runs of C values.
//
// Work is spread over a fixed pool of goroutines (see SetThreads and
// Parallel). The matrix kernels are written by hand, in Go assembly for amd64
// beside a pure-Go twin, because no maintained pure-Go library reaches the
// machine's FMA throughput for float32.
package tensor

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
)

// Tensor is a dense float32 array. Data holds the elements; element
// (i0, i1, ...) lives at Data[Offset + i0*Strides[0] + i1*Strides[1] + ...].
type Tensor struct {
	Shape   []int
	Strides []int
	Offset  int
	Data    []float32
}

// New returns a zeroed contiguous tensor of the given shape.
func New(shape ...int) *Tensor {
	n := numel(shape)
	return &Tensor{Shape: append([]int(nil), shape...), Strides: contiguousStrides(shape), Data: make([]float32, n)}
}

// FromSlice wraps data (not copied) as a contiguous tensor of the given shape.
func FromSlice(data []float32, shape ...int) *Tensor {
	if numel(shape) != len(data) {
		panic(fmt.Sprintf("tensor: FromSlice: %d values for shape %v", len(data), shape))
	}
	return &Tensor{Shape: append([]int(nil), shape...), Strides: contiguousStrides(shape), Data: data}
}

// Full returns a contiguous tensor of the given shape filled with v.
func Full(v float32, shape ...int) *Tensor {
	t := New(shape...)
	for i := range t.Data {
		t.Data[i] = v
	}
	return t
}

// Randn returns a tensor of normal samples with mean 0 and standard deviation std.
func Randn(rng *rand.Rand, std float32, shape ...int) *Tensor {
	t := New(shape...)
	for i := range t.Data {
		t.Data[i] = float32(rng.NormFloat64()) * std
	}
	return t
}

// Uniform returns a tensor of samples uniform in [lo, hi).
func Uniform(rng *rand.Rand, lo, hi float32, shape ...int) *Tensor {
	t := New(shape...)
	for i := range t.Data {
		t.Data[i] = lo + (hi-lo)*rng.Float32()
	}
	return t
}

// Ensure returns *t if it already has the given shape and is contiguous,
// otherwise it replaces *t with a new zeroed tensor of that shape. Layers use
// it to keep one output buffer per shape, so the training loop does not
// allocate once shapes settle. The contents of a reused buffer are stale.
func Ensure(t **Tensor, shape ...int) *Tensor {
	if *t != nil && (*t).IsContiguous() && sameShape((*t).Shape, shape) {
		return *t
	}
	*t = New(shape...)
	return *t
}

// Len returns the number of elements.
func (t *Tensor) Len() int { return numel(t.Shape) }

// Dims returns the number of dimensions.
func (t *Tensor) Dims() int { return len(t.Shape) }

// Dim returns the size of dimension i; negative i counts from the end.
func (t *Tensor) Dim(i int) int {
	if i < 0 {
		i += len(t.Shape)
	}
	return t.Shape[i]
}

// IsContiguous reports whether t's elements are dense and row-major from Offset.
func (t *Tensor) IsContiguous() bool {
	s := 1
	for i := len(t.Shape) - 1; i >= 0; i-- {
		if t.Shape[i] != 1 && t.Strides[i] != s {
			return false
		}
		s *= t.Shape[i]
	}
	return true
}

// Values returns the elements of a contiguous tensor as a slice of exactly
// Len() values, sharing memory with t. It panics if t is not contiguous.
func (t *Tensor) Values() []float32 {
	if !t.IsContiguous() {
		panic("tensor: Values of a non-contiguous tensor")
	}
	return t.Data[t.Offset : t.Offset+t.Len()]
}

// At returns the element at the given index.
func (t *Tensor) At(idx ...int) float32 { return t.Data[t.index(idx)] }

// Set stores v at the given index.
func (t *Tensor) Set(v float32, idx ...int) { t.Data[t.index(idx)] = v }

func (t *Tensor) index(idx []int) int {
	if len(idx) != len(t.Shape) {
		panic(fmt.Sprintf("tensor: index %v for shape %v", idx, t.Shape))
	}
	o := t.Offset
	for i, v := range idx {
		if v < 0 || v >= t.Shape[i] {
			panic(fmt.Sprintf("tensor: index %v out of range for shape %v", idx, t.Shape))
		}
		o += v * t.Strides[i]
	}
	return o
}

// Reshape returns a view of a contiguous tensor with a new shape of the same
// length. One dimension may be -1, meaning "whatever is left".
func (t *Tensor) Reshape(shape ...int) *Tensor {
	if !t.IsContiguous() {
		panic("tensor: Reshape of a non-contiguous tensor; call Contiguous first")
	}
	shape = append([]int(nil), shape...)
	infer, known := -1, 1
	for i, d := range shape {
		if d == -1 {
			if infer >= 0 {
				panic("tensor: Reshape with more than one -1")
			}
			infer = i
		} else {
			known *= d
		}
	}
	if infer >= 0 && known > 0 {
		shape[infer] = t.Len() / known
	}
	if numel(shape) != t.Len() {
		panic(fmt.Sprintf("tensor: cannot reshape %v to %v", t.Shape, shape))
	}
	return &Tensor{Shape: shape, Strides: contiguousStrides(shape), Offset: t.Offset, Data: t.Data}
}

// Permute returns a view with the dimensions reordered: dimension i of the
// result is dimension perm[i] of t.
func (t *Tensor) Permute(perm ...int) *Tensor {
	if len(perm) != len(t.Shape) {
		panic(fmt.Sprintf("tensor: Permute %v of shape %v", perm, t.Shape))
	}
	shape := make([]int, len(perm))
	strides := make([]int, len(perm))
	seen := make([]bool, len(perm))
	for i, p := range perm {
		if p < 0 || p >= len(perm) || seen[p] {
			panic(fmt.Sprintf("tensor: Permute %v is not a permutation", perm))
		}
		seen[p] = true
		shape[i], strides[i] = t.Shape[p], t.Strides[p]
	}
	return &Tensor{Shape: shape, Strides: strides, Offset: t.Offset, Data: t.Data}
}

// Contiguous returns t if it is contiguous, otherwise a contiguous copy.
func (t *Tensor) Contiguous() *Tensor {
	if t.IsContiguous() {
		return t
	}
	return t.Clone()
}

// Clone returns a contiguous copy of t.
func (t *Tensor) Clone() *Tensor {
	out := New(t.Shape...)
	t.copyInto(out.Data)
	return out
}

// CopyFrom copies src's elements into t; the shapes must have equal length
// of elements. t must be contiguous.
func (t *Tensor) CopyFrom(src *Tensor) {
	if src.Len() != t.Len() {
		panic(fmt.Sprintf("tensor: CopyFrom %v into %v", src.Shape, t.Shape))
	}
	src.copyInto(t.Values())
}

func (t *Tensor) copyInto(dst []float32) {
	if t.IsContiguous() {
		copy(dst, t.Data[t.Offset:t.Offset+t.Len()])
		return
	}
	idx := make([]int, len(t.Shape))
	for i := range dst {
		o := t.Offset
		for d, v := range idx {
			o += v * t.Strides[d]
		}
		dst[i] = t.Data[o]
		for d := len(idx) - 1; d >= 0; d-- {
			idx[d]++
			if idx[d] < t.Shape[d] {
				break
			}
			idx[d] = 0
		}
	}
}

// Zero sets every element of a contiguous tensor to 0.
func (t *Tensor) Zero() { clear(t.Values()) }

// String formats small tensors in full and large ones by shape and summary.
func (t *Tensor) String() string {
	if t.Len() > 64 {
		v := t.Contiguous().Values()
		var s, ss float64
		for _, x := range v {
			s += float64(x)
			ss += float64(x) * float64(x)
		}
		m := s / float64(len(v))
		return fmt.Sprintf("Tensor%v{mean=%.4g std=%.4g}", t.Shape, m, math.Sqrt(math.Max(ss/float64(len(v))-m*m, 0)))
	}
	v := t.Contiguous().Values()
	parts := make([]string, len(v))
	for i, x := range v {
		parts[i] = fmt.Sprintf("%.4g", x)
	}
	return fmt.Sprintf("Tensor%v[%s]", t.Shape, strings.Join(parts, " "))
}

// SameShape reports whether a and b have equal shapes.
func SameShape(a, b *Tensor) bool { return sameShape(a.Shape, b.Shape) }

func sameShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func numel(shape []int) int {
	n := 1
	for _, d := range shape {
		if d < 0 {
			panic(fmt.Sprintf("tensor: negative dimension in shape %v", shape))
		}
		n *= d
	}
	return n
}

func contiguousStrides(shape []int) []int {
	s := make([]int, len(shape))
	acc := 1
	for i := len(shape) - 1; i >= 0; i-- {
		s[i] = acc
		acc *= shape[i]
	}
	return s
}

// Arena is storage that tensors whose lifetimes never overlap can share.
// A network whose gradients pass through its layers one at a time can give
// the gradients of many layers one arena (one per role) instead of a
// buffer each. View returns a contiguous tensor over the arena's storage;
// a view's values are only good until the next View of the same arena.
// Views are cached by shape, so steady use allocates nothing.
type Arena struct {
	data  []float32
	views []*Tensor
}

// Reserve grows the arena's storage to at least n values, so that views
// up to that size need no allocation (and leave no smaller storage behind
// as garbage).
func (a *Arena) Reserve(n int) {
	if n > len(a.data) {
		a.data = make([]float32, n)
		a.views = a.views[:0]
	}
}

// View returns a contiguous tensor of the given shape over the arena's
// storage, growing the storage when it is too small (the values are then
// zero; otherwise they are whatever the last view left).
func (a *Arena) View(shape ...int) *Tensor {
	n := numel(shape)
	a.Reserve(n) // earlier views then point into the old storage: dropped
	for _, v := range a.views {
		if sameShape(v.Shape, shape) {
			return v
		}
	}
	v := FromSlice(a.data[:n], shape...)
	a.views = append(a.views, v)
	return v
}
