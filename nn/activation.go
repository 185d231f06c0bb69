package nn

import (
	"fmt"
	"math"

	"github.com/deepscope/deepscope/tensor"
)

// Element-wise activations. Each works on any shape, caches the tensor its
// backward needs (the input, or the output where the derivative is a
// function of it) and reuses its output and gradient buffers.

// ReLU is max(x, 0), like torch.nn.ReLU. Its gradient at 0 is 0.
type ReLU struct{ y, dx *tensor.Tensor }

// Forward returns max(x, 0).
func (m *ReLU) Forward(x *tensor.Tensor) *tensor.Tensor {
	return mapUnary(&m.y, x, func(y, x []float32) {
		for i, v := range x {
			y[i] = max(v, 0)
		}
	})
}

// Backward passes dy where the output was positive (or NaN).
func (m *ReLU) Backward(dy *tensor.Tensor) *tensor.Tensor {
	return mapBinary("ReLU", &m.dx, m.y, dy, func(dx, y, dy []float32) {
		for i, v := range y {
			// y is +0 where x ≤ 0 and has other bits elsewhere; u|−u has
			// its sign bit set exactly when u ≠ 0, which makes an all-ones
			// or all-zeros mask without a branch (a branch on the sign of
			// activations is mispredicted half the time).
			u := math.Float32bits(v)
			mask := uint32(int32(u|-u) >> 31)
			dx[i] = math.Float32frombits(math.Float32bits(dy[i]) & mask)
		}
	})
}

// GELU is the Gaussian error linear unit, like torch.nn.GELU: by default
// the exact x·Φ(x) = x/2·(1 + erf(x/√2)); with Approximate "tanh" it is
// x/2·(1 + tanh(√(2/π)·(x + 0.044715·x³))).
type GELU struct {
	Approximate string // "" or "none" for the exact form, or "tanh"

	x, y, dx *tensor.Tensor
}

const (
	geluBeta  = 0.7978845608028654 // √(2/π)
	geluKappa = 0.044715
	invSqrt2  = 0.7071067811865476
	invSqrt2π = 0.3989422804014327
)

// Forward returns GELU(x).
func (m *GELU) Forward(x *tensor.Tensor) *tensor.Tensor {
	m.x = x
	if m.tanh() {
		return mapUnary(&m.y, x, func(y, x []float32) {
			for i, u := range x {
				y[i] = 0.5 * u * (1 + tanh32(geluBeta*(u+geluKappa*u*u*u)))
			}
		})
	}
	return mapUnary(&m.y, x, func(y, x []float32) {
		for i, u := range x {
			y[i] = 0.5 * u * (1 + erf32(u*invSqrt2))
		}
	})
}

// Backward returns dy·GELU'(x): Φ(x) + x·φ(x) for the exact form.
func (m *GELU) Backward(dy *tensor.Tensor) *tensor.Tensor {
	if m.tanh() {
		return mapBinary("GELU", &m.dx, m.x, dy, func(dx, x, dy []float32) {
			for i, u := range x {
				th := tanh32(geluBeta * (u + geluKappa*u*u*u))
				d := 0.5 * (1 + th)
				// Where tanh saturates, skip the second term: its 0 would
				// meet an infinite x² for huge x.
				if sech2 := 1 - th*th; sech2 != 0 {
					d += 0.5 * u * sech2 * geluBeta * (1 + 3*geluKappa*u*u)
				}
				dx[i] = dy[i] * d
			}
		})
	}
	return mapBinary("GELU", &m.dx, m.x, dy, func(dx, x, dy []float32) {
		for i, u := range x {
			d := 0.5*(1+erf32(u*invSqrt2)) + u*invSqrt2π*tensor.Exp32(-0.5*u*u)
			dx[i] = dy[i] * d
		}
	})
}

func (m *GELU) tanh() bool {
	switch m.Approximate {
	case "", "none":
		return false
	case "tanh":
		return true
	}
	panic(fmt.Sprintf("nn: GELU: Approximate %q, want \"none\" or \"tanh\"", m.Approximate))
}

// SiLU is x·σ(x) (also called swish), like torch.nn.SiLU.
type SiLU struct{ x, y, dx *tensor.Tensor }

// Forward returns x·σ(x).
func (m *SiLU) Forward(x *tensor.Tensor) *tensor.Tensor {
	m.x = x
	return mapUnary(&m.y, x, func(y, x []float32) {
		for i, v := range x {
			y[i] = v * sigmoid32(v)
		}
	})
}

// Backward returns dy·σ(x)·(1 + x·(1 − σ(x))).
func (m *SiLU) Backward(dy *tensor.Tensor) *tensor.Tensor {
	return mapBinary("SiLU", &m.dx, m.x, dy, func(dx, x, dy []float32) {
		for i, v := range x {
			s := sigmoid32(v)
			dx[i] = dy[i] * s * (1 + v*(1-s))
		}
	})
}

// Sigmoid is the logistic function 1/(1 + e⁻ˣ), like torch.nn.Sigmoid.
type Sigmoid struct{ y, dx *tensor.Tensor }

// Forward returns σ(x).
func (m *Sigmoid) Forward(x *tensor.Tensor) *tensor.Tensor {
	return mapUnary(&m.y, x, func(y, x []float32) {
		for i, v := range x {
			y[i] = sigmoid32(v)
		}
	})
}

// Backward returns dy·y·(1 − y).
func (m *Sigmoid) Backward(dy *tensor.Tensor) *tensor.Tensor {
	return mapBinary("Sigmoid", &m.dx, m.y, dy, func(dx, y, dy []float32) {
		for i, v := range y {
			dx[i] = dy[i] * v * (1 - v)
		}
	})
}

// Tanh is the hyperbolic tangent, like torch.nn.Tanh.
type Tanh struct{ y, dx *tensor.Tensor }

// Forward returns tanh(x).
func (m *Tanh) Forward(x *tensor.Tensor) *tensor.Tensor {
	return mapUnary(&m.y, x, func(y, x []float32) {
		for i, v := range x {
			y[i] = tanh32(v)
		}
	})
}

// Backward returns dy·(1 − y²).
func (m *Tanh) Backward(dy *tensor.Tensor) *tensor.Tensor {
	return mapBinary("Tanh", &m.dx, m.y, dy, func(dx, y, dy []float32) {
		for i, v := range y {
			dx[i] = dy[i] * (1 - v*v)
		}
	})
}

// Identity returns its input unchanged, like torch.nn.Identity; it stands in
// for a layer that a configuration leaves out.
type Identity struct{}

// Forward returns x itself.
func (Identity) Forward(x *tensor.Tensor) *tensor.Tensor { return x }

// Backward returns dy itself.
func (Identity) Backward(dy *tensor.Tensor) *tensor.Tensor { return dy }

// The element-wise functions below work in float32, as PyTorch's
// vectorised CPU kernels do; math's float64 versions cost 2 to 6 times as
// much and their extra digits are rounded away.

// sigmoid32 is 1/(1 + e⁻ˣ); for very negative x, e⁻ˣ overflows to +Inf and
// the result is exactly 0, never NaN.
func sigmoid32(x float32) float32 { return 1 / (1 + tensor.Exp32(-x)) }

// tanh32 is tanh(x) as Cephes' tanhf computes it: an odd polynomial for
// |x| < 0.625, 1 − 2/(e^{2|x|} + 1) beyond (relative error about 1e-7).
func tanh32(x float32) float32 {
	a := x
	if a < 0 {
		a = -a
	}
	if a < 0.625 {
		z := x * x
		return ((((-5.70498872745e-3*z+2.06390887954e-2)*z-5.37397155531e-2)*z+1.33314422036e-1)*z-3.33332819422e-1)*z*x + x
	}
	t := 1 - 2/(tensor.Exp32(2*a)+1)
	if x < 0 {
		return -t
	}
	return t
}

// erf32 is the error function by Abramowitz and Stegun's formula 7.1.26
// (absolute error 1.5e-7, about 4e-7 once evaluated in float32), the
// approximation PyTorch's vectorised CPU erf uses, so exact-form GELU here
// rounds as it does there.
func erf32(x float32) float32 {
	a := x
	if a < 0 {
		a = -a
	}
	t := 1 / (1 + 0.3275911*a)
	p := ((((1.061405429*t-1.453152027)*t+1.421413741)*t-0.284496736)*t + 0.254829592) * t
	r := 1 - p*tensor.Exp32(-a*a)
	if x < 0 {
		return -r
	}
	return r
}

// elemGrain is the number of elements one parallel chunk of an
// element-wise loop takes.
const elemGrain = 16384

// mapUnary sets *out to a buffer shaped like x and fills it with f(x), split
// over the worker pool.
func mapUnary(out **tensor.Tensor, x *tensor.Tensor, f func(y, x []float32)) *tensor.Tensor {
	y := tensor.Ensure(out, x.Shape...)
	xv, yv := x.Contiguous().Values(), y.Values()
	tensor.Parallel(len(yv), elemGrain, func(lo, hi int) { f(yv[lo:hi], xv[lo:hi]) })
	return y
}

// mapBinary sets *out to a buffer shaped like a and fills it with f(a, b);
// a is the cached tensor of layer op and b the incoming gradient.
func mapBinary(op string, out **tensor.Tensor, a, b *tensor.Tensor, f func(dx, a, b []float32)) *tensor.Tensor {
	if a == nil || !tensor.SameShape(a, b) {
		panic(fmt.Sprintf("nn: %s: Backward gradient %v does not match the last Forward", op, b.Shape))
	}
	y := tensor.Ensure(out, a.Shape...)
	av, bv, yv := a.Contiguous().Values(), b.Contiguous().Values(), y.Values()
	tensor.Parallel(len(yv), elemGrain, func(lo, hi int) { f(yv[lo:hi], av[lo:hi], bv[lo:hi]) })
	return y
}
