package optim

import (
	"math"

	"github.com/deepscope/deepscope/nn"
	"github.com/deepscope/deepscope/tensor"
)

// ClipGradNorm scales the gradients of ps together so that their global L2
// norm is at most maxNorm, as torch.nn.utils.clip_grad_norm_: it computes
// the norm over all gradients, and if maxNorm/(norm+1e-6) < 1 multiplies
// every gradient by that factor. It returns the norm before clipping.
// Parameters without a gradient (buffers) are skipped.
//
// Unlike PyTorch, a NaN or infinite norm leaves the gradients unchanged
// (PyTorch would fill them with NaN); the caller should skip that step. The
// sum of squares is accumulated in float64 over fixed chunks, added in
// order, so the result does not depend on the number of threads.
// ClipGradNorm panics if maxNorm is negative or NaN.
func ClipGradNorm(ps []*nn.Param, maxNorm float64) float64 {
	if !(maxNorm >= 0) {
		panic("optim: ClipGradNorm with a negative or NaN max norm")
	}
	var chunks [][]float32
	n := 0
	for _, p := range ps {
		if p.Grad == nil {
			continue
		}
		g := p.Grad.Values()
		for lo := 0; lo < len(g); lo += chunkSize {
			chunks = append(chunks, g[lo:min(lo+chunkSize, len(g))])
		}
		n += len(g)
	}
	partial := make([]float64, len(chunks))
	forChunks(n, len(chunks), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			partial[i] = sumSquares(chunks[i])
		}
	})
	var sum float64
	for _, s := range partial {
		sum += s
	}
	total := math.Sqrt(sum)
	if math.IsNaN(total) || math.IsInf(total, 0) {
		return total
	}
	if coef := maxNorm / (total + 1e-6); coef < 1 {
		c := float32(coef)
		forChunks(n, len(chunks), func(lo, hi int) {
			for _, g := range chunks[lo:hi] {
				for i := range g {
					g[i] *= c
				}
			}
		})
	}
	return total
}

// forChunks calls fn over [0, chunks), in parallel when the chunks hold
// enough elements to pay for it.
func forChunks(elems, chunks int, fn func(lo, hi int)) {
	if elems < serialBelow {
		fn(0, chunks)
		return
	}
	tensor.Parallel(chunks, 1, fn)
}

// sumSquares returns the sum of the squares of x in float64, with four
// accumulators to keep the loop from waiting on one addition.
func sumSquares(x []float32) float64 {
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(x); i += 4 {
		a, b, c, d := float64(x[i]), float64(x[i+1]), float64(x[i+2]), float64(x[i+3])
		s0 += a * a
		s1 += b * b
		s2 += c * c
		s3 += d * d
	}
	for ; i < len(x); i++ {
		a := float64(x[i])
		s0 += a * a
	}
	return (s0 + s1) + (s2 + s3)
}
