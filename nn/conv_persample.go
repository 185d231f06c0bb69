package nn

import (
	"fmt"

	"github.com/deepscope/deepscope/tensor"
)

// AddPerSampleGradSq adds each sample's squared gradient norm (weight and
// bias) from the last Forward and Backward into sq, without running samples
// one at a time.
//
// For each sample n and group, the weight gradient is dW_n = G_nᵀ A_n, with
// A_n the sample's lowered input (P rows, P = OH*OW, width K*K*In/Groups)
// and G_n its output gradient (P × Out/Groups). The layer picks the cheaper
// of two ways per shape:
//   - direct: form dW_n by one GEMM per chunk of rows and sum its squares,
//     P*Out*width multiply-adds;
//   - ghost norm: ||G_nᵀ A_n||² = Σ_pq (a_p·a_q)(g_p·g_q), the elementwise
//     product of the Gram matrices A_n A_nᵀ and G_n G_nᵀ, P²*(width+Out)
//     multiply-adds and a P×P buffer;
//
// ghost when P*(width+Out/Groups) < (Out/Groups)*width, i.e. small maps
// with many channels (ResNet's last stage), direct otherwise. A depthwise
// convolution forms each sample's [K*K, C] gradient directly.
func (l *Conv2d) AddPerSampleGradSq(sq []float64) {
	if l.x == nil || l.dy == nil {
		panic("nn: Conv2d: AddPerSampleGradSq before Forward and Backward")
	}
	g := l.geom(l.x)
	if len(sq) != g.N {
		panic(fmt.Sprintf("nn: Conv2d: AddPerSampleGradSq with %d slots for batch %d", len(sq), g.N))
	}
	c := l.cfg
	xv, dyv := l.x.Values(), l.dy.Values()
	P := g.OutH() * g.OutW()
	if l.Bias != nil {
		parallelChunks(g.N, func(_, lo, hi int) {
			for n := lo; n < hi; n++ {
				sq[n] += biasNormSq(dyv[n*P*c.Out:(n+1)*P*c.Out], c.Out)
			}
		})
	}
	if l.depthwise() {
		kc := c.Kernel * c.Kernel * c.In
		part := ensureBuf(&l.part, tensor.Threads()*kc)
		oh := g.OutH()
		parallelChunks(g.N, func(i, lo, hi int) {
			p := part[i*kc : (i+1)*kc]
			for n := lo; n < hi; n++ {
				clear(p)
				depthwiseGrad(g, xv, dyv, n*oh, (n+1)*oh, p)
				sq[n] += sumSquares(p)
			}
		})
		return
	}
	og := c.Out / c.Groups
	width := c.Kernel * c.Kernel * (c.In / c.Groups)
	if P*(width+og) < og*width {
		l.ghostNormSq(g, xv, dyv, sq)
		return
	}
	step := l.chunkRows(width, P)
	col := l.colBuf(step * width)
	dw := getScratch(og * width)
	defer putScratch(col)
	defer putScratch(dw)
	for n := 0; n < g.N; n++ {
		for gi := 0; gi < c.Groups; gi++ {
			for r0 := 0; r0 < P; r0 += step {
				nr := min(step, P-r0)
				a, lda := l.lowered(g, xv, gi, n*P+r0, nr, col)
				beta := float32(1)
				if r0 == 0 {
					beta = 0
				}
				tensor.Gemm(true, false, og, width, nr, 1, dyv[(n*P+r0)*c.Out+gi*og:], c.Out, a, lda, beta, dw, width)
			}
			sq[n] += sumSquares(dw)
		}
	}
}

// ghostNormSq adds Σ_pq (a_p·a_q)(g_p·g_q) per sample and group into sq.
func (l *Conv2d) ghostNormSq(g tensor.ConvGeom, x, dy []float32, sq []float64) {
	c := l.cfg
	og := c.Out / c.Groups
	width := c.Kernel * c.Kernel * (c.In / c.Groups)
	P := g.OutH() * g.OutW()
	col := l.colBuf(P * width)
	gram := getScratch(2 * P * P)
	defer putScratch(col)
	defer putScratch(gram)
	ga, gg := gram[:P*P], gram[P*P:]
	for n := 0; n < g.N; n++ {
		for gi := 0; gi < c.Groups; gi++ {
			a, lda := l.lowered(g, x, gi, n*P, P, col)
			tensor.Gemm(false, true, P, P, width, 1, a, lda, a, lda, 0, ga, P)
			d := dy[n*P*c.Out+gi*og:]
			tensor.Gemm(false, true, P, P, og, 1, d, c.Out, d, c.Out, 0, gg, P)
			var s float64
			for i, v := range ga {
				s += float64(v) * float64(gg[i])
			}
			sq[n] += s
		}
	}
}

// biasNormSq returns the squared norm of the column sums of dy, rows of c.
func biasNormSq(dy []float32, c int) float64 {
	var s float64
	for j := 0; j < c; j++ {
		var b float64
		for i := j; i < len(dy); i += c {
			b += float64(dy[i])
		}
		s += b * b
	}
	return s
}

func sumSquares(v []float32) float64 {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	return s
}
