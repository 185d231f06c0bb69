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

// Backward passes dy where the output was positive.
func (m *ReLU) Backward(dy *tensor.Tensor) *tensor.Tensor {
	return mapBinary("ReLU", &m.dx, m.y, dy, func(dx, y, dy []float32) {
		for i, v := range y {
			if v > 0 {
				dx[i] = dy[i]
			} else {
				dx[i] = 0
			}
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
			for i, v := range x {
				u := float64(v)
				y[i] = float32(0.5 * u * (1 + math.Tanh(geluBeta*(u+geluKappa*u*u*u))))
			}
		})
	}
	return mapUnary(&m.y, x, func(y, x []float32) {
		for i, v := range x {
			u := float64(v)
			y[i] = float32(0.5 * u * (1 + math.Erf(u*invSqrt2)))
		}
	})
}

// Backward returns dy·GELU'(x): Φ(x) + x·φ(x) for the exact form.
func (m *GELU) Backward(dy *tensor.Tensor) *tensor.Tensor {
	if m.tanh() {
		return mapBinary("GELU", &m.dx, m.x, dy, func(dx, x, dy []float32) {
			for i, v := range x {
				u := float64(v)
				th := math.Tanh(geluBeta * (u + geluKappa*u*u*u))
				d := 0.5*(1+th) + 0.5*u*(1-th*th)*geluBeta*(1+3*geluKappa*u*u)
				dx[i] = dy[i] * float32(d)
			}
		})
	}
	return mapBinary("GELU", &m.dx, m.x, dy, func(dx, x, dy []float32) {
		for i, v := range x {
			u := float64(v)
			d := 0.5*(1+math.Erf(u*invSqrt2)) + u*invSqrt2π*math.Exp(-0.5*u*u)
			dx[i] = dy[i] * float32(d)
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
			y[i] = float32(float64(v) * sigmoid(float64(v)))
		}
	})
}

// Backward returns dy·σ(x)·(1 + x·(1 − σ(x))).
func (m *SiLU) Backward(dy *tensor.Tensor) *tensor.Tensor {
	return mapBinary("SiLU", &m.dx, m.x, dy, func(dx, x, dy []float32) {
		for i, v := range x {
			s := sigmoid(float64(v))
			dx[i] = dy[i] * float32(s*(1+float64(v)*(1-s)))
		}
	})
}

// Sigmoid is the logistic function 1/(1 + e⁻ˣ), like torch.nn.Sigmoid.
type Sigmoid struct{ y, dx *tensor.Tensor }

// Forward returns σ(x).
func (m *Sigmoid) Forward(x *tensor.Tensor) *tensor.Tensor {
	return mapUnary(&m.y, x, func(y, x []float32) {
		for i, v := range x {
			y[i] = float32(sigmoid(float64(v)))
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
			y[i] = float32(math.Tanh(float64(v)))
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

// sigmoid is 1/(1 + e⁻ˣ); for very negative x, e⁻ˣ overflows to +Inf and
// the result is exactly 0, never NaN.
func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

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
