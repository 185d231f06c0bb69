package nn

import "github.com/deepscope/deepscope/tensor"

// The depthwise convolution (Groups == In == Out): one K×K filter per
// channel. Lowered to GEMMs it would be C products of width one, so it runs
// direct loops instead, each step a whole channels-last C-vector.

// depthwiseForward computes y for Groups == In == Out: every output pixel is
// a sum over the kernel of input pixels times a per-channel weight, done as
// whole C-vectors (wmat is [K*K, C]).
func (l *Conv2d) depthwiseForward(g tensor.ConvGeom, x, wmat, y []float32) {
	oh, ow, C, K := g.OutH(), g.OutW(), g.C, g.KH
	var bias []float32
	if l.Bias != nil {
		bias = l.Bias.Value.Values()
	}
	tensor.Parallel(g.N*oh, 1, func(lo, hi int) {
		for u := lo; u < hi; u++ {
			n, oy := u/oh, u%oh
			for ox := 0; ox < ow; ox++ {
				acc := y[(u*ow+ox)*C:][:C]
				if bias != nil {
					copy(acc, bias)
				} else {
					clear(acc)
				}
				for kh := 0; kh < K; kh++ {
					ih := oy*g.SH - g.PH + kh
					if ih < 0 || ih >= g.H {
						continue
					}
					for kw := 0; kw < K; kw++ {
						iw := ox*g.SW - g.PW + kw
						if iw < 0 || iw >= g.W {
							continue
						}
						xs := x[((n*g.H+ih)*g.W+iw)*C:][:C]
						ws := wmat[(kh*K+kw)*C:][:C]
						for c, v := range xs {
							acc[c] += v * ws[c]
						}
					}
				}
			}
		}
	})
}

// depthwiseBackward writes dx (gathered per input pixel) and the weight
// gradient into dw, [K*K, C], from one partial per thread.
func (l *Conv2d) depthwiseBackward(g tensor.ConvGeom, x, dy, wmat, dx, dw []float32, accumulate bool) {
	oh, ow, C, K := g.OutH(), g.OutW(), g.C, g.KH
	tensor.Parallel(g.N*g.H, 1, func(lo, hi int) {
		for u := lo; u < hi; u++ {
			n, ih := u/g.H, u%g.H
			for iw := 0; iw < g.W; iw++ {
				d := dx[(u*g.W+iw)*C:][:C]
				if !accumulate {
					clear(d)
				}
				for kh := 0; kh < K; kh++ {
					t := ih + g.PH - kh
					if t < 0 {
						break
					}
					if t%g.SH != 0 || t/g.SH >= oh {
						continue
					}
					for kw := 0; kw < K; kw++ {
						s := iw + g.PW - kw
						if s < 0 {
							break
						}
						if s%g.SW != 0 || s/g.SW >= ow {
							continue
						}
						ds := dy[((n*oh+t/g.SH)*ow+s/g.SW)*C:][:C]
						ws := wmat[(kh*K+kw)*C:][:C]
						for c, v := range ds {
							d[c] += v * ws[c]
						}
					}
				}
			}
		}
	})
	kc := K * K * C
	part := ensureBuf(&l.part, tensor.Threads()*kc)
	k := parallelChunks(g.N*oh, func(i, lo, hi int) {
		p := part[i*kc : (i+1)*kc]
		clear(p)
		depthwiseGrad(g, x, dy, lo, hi, p)
	})
	copy(dw, part[:kc])
	for i := 1; i < k; i++ {
		for j, v := range part[i*kc : (i+1)*kc] {
			dw[j] += v
		}
	}
}

// depthwiseGrad adds into dw, [K*K, C], the weight gradient from output rows
// (image n, row oy) numbered lo .. hi-1 as n*OutH + oy.
func depthwiseGrad(g tensor.ConvGeom, x, dy []float32, lo, hi int, dw []float32) {
	oh, ow, C, K := g.OutH(), g.OutW(), g.C, g.KH
	for u := lo; u < hi; u++ {
		n, oy := u/oh, u%oh
		for ox := 0; ox < ow; ox++ {
			ds := dy[(u*ow+ox)*C:][:C]
			for kh := 0; kh < K; kh++ {
				ih := oy*g.SH - g.PH + kh
				if ih < 0 || ih >= g.H {
					continue
				}
				for kw := 0; kw < K; kw++ {
					iw := ox*g.SW - g.PW + kw
					if iw < 0 || iw >= g.W {
						continue
					}
					xs := x[((n*g.H+ih)*g.W+iw)*C:][:C]
					p := dw[(kh*K+kw)*C:][:C]
					for c, v := range ds {
						p[c] += v * xs[c]
					}
				}
			}
		}
	}
}
