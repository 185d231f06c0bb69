package nn

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/deepscope/deepscope/tensor"
)

// Linear is a fully connected layer, y = x Wᵀ + b, like torch.nn.Linear. It
// takes any input [..., In], treating all leading dimensions as rows, and
// returns [..., Out].
type Linear struct {
	In, Out int
	Weight  *Param // "weight", [Out, In]
	Bias    *Param // "bias", [Out]; nil without bias

	x, dy  *tensor.Tensor // cached input and output gradient
	y, dx  *tensor.Tensor
	shape  []int
	ga, gb *tensor.Tensor // per-sample scratch
}

// NewLinear returns a Linear layer with PyTorch's initialisation: weight
// from kaiming_uniform_(a=√5), which is U(-1/√in, 1/√in), and bias from the
// same range.
func NewLinear(rng *rand.Rand, in, out int, bias bool) *Linear {
	if in <= 0 || out <= 0 {
		panic(fmt.Sprintf("nn: NewLinear(%d, %d): sizes must be positive", in, out))
	}
	bound := float32(1 / math.Sqrt(float64(in)))
	l := &Linear{In: in, Out: out, Weight: NewParam("weight", tensor.Uniform(rng, -bound, bound, out, in))}
	if bias {
		l.Bias = NewParam("bias", tensor.Uniform(rng, -bound, bound, out))
		l.Bias.NoDecay = true
	}
	return l
}

// Params returns weight and, if present, bias.
func (l *Linear) Params() []*Param {
	if l.Bias == nil {
		return []*Param{l.Weight}
	}
	return []*Param{l.Weight, l.Bias}
}

// Forward computes x Wᵀ + b over the last dimension of x.
func (l *Linear) Forward(x *tensor.Tensor) *tensor.Tensor {
	if x.Dims() == 0 || x.Dim(-1) != l.In {
		panic(fmt.Sprintf("nn: Linear: input shape %v, want [..., %d]", x.Shape, l.In))
	}
	l.x = x.Contiguous()
	l.shape = append(l.shape[:0], x.Shape...)
	l.shape[len(l.shape)-1] = l.Out
	y := tensor.Ensure(&l.y, l.shape...)
	denseForward(y.Values(), l.x.Values(), l.Weight.Value.Values(), l.biasValues(), x.Len()/l.In, l.In, l.Out)
	return y
}

// Backward accumulates dW += dyᵀx and db += Σ dy, and returns dy W.
func (l *Linear) Backward(dy *tensor.Tensor) *tensor.Tensor {
	if l.y == nil || !tensor.SameShape(dy, l.y) {
		panic(fmt.Sprintf("nn: Linear: gradient shape %v does not match the last Forward", dy.Shape))
	}
	l.dy = dy.Contiguous()
	dx := tensor.Ensure(&l.dx, l.x.Shape...)
	var db []float32
	if l.Bias != nil {
		db = l.Bias.Grad.Values()
	}
	denseBackward(dx.Values(), l.Weight.Grad.Values(), db, l.dy.Values(), l.x.Values(), l.Weight.Value.Values(), l.x.Len()/l.In, l.In, l.Out)
	return dx
}

func (l *Linear) biasValues() []float32 {
	if l.Bias == nil {
		return nil
	}
	return l.Bias.Value.Values()
}

// AddPerSampleGradSq adds each sample's squared gradient norm of weight and
// bias. Dimension 0 of the input is the sample; the dimensions between it
// and the last are positions (T) whose gradients add up within a sample.
// For T = 1 the norm is ‖dyₙ‖²·‖xₙ‖² (+ ‖dyₙ‖² for the bias). For T > 1 it
// either forms Gₙ = dYₙᵀXₙ explicitly (T·In·Out work) or uses the ghost-norm
// identity ‖dYₙᵀXₙ‖² = Σ_{t,s} (dyₜ·dyₛ)(xₜ·xₛ) (T²·(In+Out) work),
// whichever is cheaper.
func (l *Linear) AddPerSampleGradSq(sq []float64) {
	rows := l.x.Len() / l.In
	t := rows / len(sq)
	if t*len(sq) != rows || (l.x.Dims() > 1 && l.x.Dim(0) != len(sq)) {
		panic(fmt.Sprintf("nn: Linear: per-sample norms for %d samples, input was %v", len(sq), l.x.Shape))
	}
	l.perSampleSq(sq, t, useGhost(t, l.In, l.Out))
}

func (l *Linear) perSampleSq(sq []float64, t int, ghost bool) {
	denseSampleSq(sq, l.x.Values(), l.dy.Values(), t, l.In, l.Out, l.Bias != nil, ghost, &l.ga, &l.gb)
}

// useGhost reports whether the ghost-norm identity is cheaper than forming
// each sample's [out, in] gradient, for t positions per sample.
func useGhost(t, in, out int) bool { return t > 1 && t*(in+out) < in*out }

// denseSampleSq adds to sq[n] the squared norm of sample n's gradient of a
// dense map y = x wᵀ + b, given its input x [N·t, in] and output gradient
// dy [N·t, out]: ‖Σₜ dyₜ xₜᵀ‖², plus ‖Σₜ dyₜ‖² when bias is set. ga and gb
// hold scratch buffers between calls.
func denseSampleSq(sq []float64, x, dy []float32, t, in, out int, bias, ghost bool, ga, gb **tensor.Tensor) {
	if t == 1 {
		b := 0.0
		if bias {
			b = 1
		}
		tensor.Parallel(len(sq), 64, func(lo, hi int) {
			for n := lo; n < hi; n++ {
				sq[n] += sqNorm(dy[n*out:(n+1)*out]) * (sqNorm(x[n*in:(n+1)*in]) + b)
			}
		})
		return
	}
	if ghost {
		a := tensor.Ensure(ga, t, t).Values()
		b := tensor.Ensure(gb, t, t).Values()
		for n := range sq {
			xn, dyn := x[n*t*in:(n+1)*t*in], dy[n*t*out:(n+1)*t*out]
			tensor.Gemm(false, true, t, t, in, 1, xn, in, xn, in, 0, a, t)
			tensor.Gemm(false, true, t, t, out, 1, dyn, out, dyn, out, 0, b, t)
			var s float64
			for i, v := range a {
				s += float64(v) * float64(b[i])
			}
			sq[n] += s
		}
	} else {
		g := tensor.Ensure(ga, out, in).Values()
		for n := range sq {
			tensor.Gemm(true, false, out, in, t, 1, dy[n*t*out:], out, x[n*t*in:], in, 0, g, in)
			sq[n] += sqNorm(g)
		}
	}
	if bias {
		// Any scratch of at least out values will do; keeping the ghost
		// path's buffer avoids reallocating it every call.
		if *gb == nil || len((*gb).Data) < out {
			tensor.Ensure(gb, out)
		}
		sq1 := (*gb).Data[:out]
		for n := range sq {
			clear(sq1)
			for r := n * t; r < (n+1)*t; r++ {
				for j, v := range dy[r*out : (r+1)*out] {
					sq1[j] += v
				}
			}
			sq[n] += sqNorm(sq1)
		}
	}
}

// denseForward computes y = x wᵀ + b for x [rows, in], w [out, in] and
// b [out] (nil for none), overwriting y [rows, out].
func denseForward(y, x, w, b []float32, rows, in, out int) {
	beta := float32(0)
	if b != nil {
		for r := range rows {
			copy(y[r*out:(r+1)*out], b)
		}
		beta = 1
	}
	tensor.Gemm(false, true, rows, out, in, 1, x, in, w, in, beta, y, out)
}

// denseBackward is denseForward's backward: dw += dyᵀx, db += Σ_rows dy
// (skipped when db is nil) and dx = dy w (skipped when dx is nil).
func denseBackward(dx, dw, db, dy, x, w []float32, rows, in, out int) {
	tensor.Gemm(true, false, out, in, rows, 1, dy, out, x, in, 1, dw, in)
	if db != nil {
		for r := range rows {
			for j, v := range dy[r*out : (r+1)*out] {
				db[j] += v
			}
		}
	}
	if dx != nil {
		tensor.Gemm(false, false, rows, in, out, 1, dy, out, w, in, 0, dx, in)
	}
}

// sqNorm returns Σ v² in float64.
func sqNorm(v []float32) float64 {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	return s
}
