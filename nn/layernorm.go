package nn

import (
	"fmt"
	"math"

	"github.com/deepscope/deepscope/tensor"
)

// LayerNorm normalises each vector along the last dimension to zero mean and
// unit variance (biased, over Dim values), then scales and shifts it, like
// torch.nn.LayerNorm(dim) with eps 1e-5:
//
//	y = (x − mean) / √(var + eps) · weight + bias
type LayerNorm struct {
	Dim    int
	Eps    float64
	Weight *Param // "weight", [Dim], initialised to 1
	Bias   *Param // "bias", [Dim], initialised to 0

	xhat, y, dx *tensor.Tensor
	dy          *tensor.Tensor
	rstd        []float32 // 1/√(var+eps) per row
	scratch     *tensor.Tensor
}

// NewLayerNorm returns a LayerNorm over a last dimension of size dim.
func NewLayerNorm(dim int) *LayerNorm {
	if dim <= 0 {
		panic(fmt.Sprintf("nn: NewLayerNorm(%d): size must be positive", dim))
	}
	w, b := NewParam("weight", tensor.Full(1, dim)), NewParam("bias", tensor.New(dim))
	w.NoDecay, b.NoDecay = true, true
	return &LayerNorm{Dim: dim, Eps: 1e-5, Weight: w, Bias: b}
}

// Params returns weight and bias.
func (l *LayerNorm) Params() []*Param { return []*Param{l.Weight, l.Bias} }

// Forward normalises each row of x [..., Dim].
func (l *LayerNorm) Forward(x *tensor.Tensor) *tensor.Tensor {
	if x.Dims() == 0 || x.Dim(-1) != l.Dim {
		panic(fmt.Sprintf("nn: LayerNorm: input shape %v, want [..., %d]", x.Shape, l.Dim))
	}
	d := l.Dim
	rows := x.Len() / d
	xv := x.Contiguous().Values()
	xhat, y := tensor.Ensure(&l.xhat, x.Shape...).Values(), tensor.Ensure(&l.y, x.Shape...).Values()
	if cap(l.rstd) < rows {
		l.rstd = make([]float32, rows)
	}
	l.rstd = l.rstd[:rows]
	w, b := l.Weight.Value.Values(), l.Bias.Value.Values()
	tensor.Parallel(rows, max(1, 2048/d), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			xr := xv[r*d : (r+1)*d]
			var s float64
			for _, v := range xr {
				s += float64(v)
			}
			mean := s / float64(d)
			var ss float64
			for _, v := range xr {
				c := float64(v) - mean
				ss += c * c
			}
			rstd := 1 / math.Sqrt(ss/float64(d)+l.Eps)
			l.rstd[r] = float32(rstd)
			hr, yr := xhat[r*d:(r+1)*d], y[r*d:(r+1)*d]
			for j, v := range xr {
				h := float32((float64(v) - mean) * rstd)
				hr[j] = h
				yr[j] = h*w[j] + b[j]
			}
		}
	})
	return l.y
}

// Backward accumulates dweight += Σ dy·x̂ and dbias += Σ dy over rows and
// returns dx = rstd·(g − mean(g) − x̂·mean(g·x̂)) with g = dy·weight.
func (l *LayerNorm) Backward(dy *tensor.Tensor) *tensor.Tensor {
	if l.y == nil || !tensor.SameShape(dy, l.y) {
		panic(fmt.Sprintf("nn: LayerNorm: gradient shape %v does not match the last Forward", dy.Shape))
	}
	l.dy = dy.Contiguous()
	d := l.Dim
	rows := dy.Len() / d
	dyv, xhat := l.dy.Values(), l.xhat.Values()
	dx := tensor.Ensure(&l.dx, dy.Shape...).Values()
	w := l.Weight.Value.Values()
	tensor.Parallel(rows, max(1, 2048/d), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			gr, hr := dyv[r*d:(r+1)*d], xhat[r*d:(r+1)*d]
			var sg, sgh float64
			for j, v := range gr {
				g := float64(v * w[j])
				sg += g
				sgh += g * float64(hr[j])
			}
			mg, mgh := float32(sg/float64(d)), float32(sgh/float64(d))
			rstd := l.rstd[r]
			for j, v := range gr {
				dx[r*d+j] = rstd * (v*w[j] - mg - hr[j]*mgh)
			}
		}
	})
	dw, db := l.Weight.Grad.Values(), l.Bias.Grad.Values()
	for r := range rows {
		gr, hr := dyv[r*d:(r+1)*d], xhat[r*d:(r+1)*d]
		for j, v := range gr {
			dw[j] += v * hr[j]
			db[j] += v
		}
	}
	return l.dx
}

// AddPerSampleGradSq adds each sample's squared gradient norm of weight and
// bias: sample n's gradients are Σₜ dyₙₜ·x̂ₙₜ and Σₜ dyₙₜ over its rows t,
// formed explicitly (they have only Dim entries each).
func (l *LayerNorm) AddPerSampleGradSq(sq []float64) {
	d := l.Dim
	rows := l.xhat.Len() / d
	t := rows / len(sq)
	if t*len(sq) != rows || (l.xhat.Dims() > 1 && l.xhat.Dim(0) != len(sq)) {
		panic(fmt.Sprintf("nn: LayerNorm: per-sample norms for %d samples, input was %v", len(sq), l.xhat.Shape))
	}
	dyv, xhat := l.dy.Values(), l.xhat.Values()
	scratch := tensor.Ensure(&l.scratch, len(sq), 2*d).Values()
	tensor.Parallel(len(sq), 1, func(lo, hi int) {
		for n := lo; n < hi; n++ {
			gw, gb := scratch[2*n*d:(2*n+1)*d], scratch[(2*n+1)*d:(2*n+2)*d]
			clear(gw)
			clear(gb)
			for r := n * t; r < (n+1)*t; r++ {
				gr, hr := dyv[r*d:(r+1)*d], xhat[r*d:(r+1)*d]
				for j, v := range gr {
					gw[j] += v * hr[j]
					gb[j] += v
				}
			}
			sq[n] += sqNorm(gw) + sqNorm(gb)
		}
	})
}
