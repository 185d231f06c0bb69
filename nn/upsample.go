package nn

import (
	"fmt"

	"github.com/deepscope/deepscope/tensor"
)

// Upsample enlarges a channels-last map [N, H, W, C] by an integer Scale to
// [N, H*Scale, W*Scale, C], as PyTorch's nn.Upsample(scale_factor=Scale)
// with mode "nearest" (each input pixel repeated Scale×Scale times) or
// "bilinear" (align_corners=False: output pixel o samples input coordinate
// (o+0.5)/Scale - 0.5, clamped at 0, between its two neighbours).
type Upsample struct {
	Scale int
	Mode  string // "nearest" or "bilinear"

	x, y, dx *tensor.Tensor
	hTaps    []bilinearTap // per output row
	wTaps    []bilinearTap // per output column
}

// bilinearTap is one output coordinate's two source indices and weights.
type bilinearTap struct {
	i0, i1 int
	l0, l1 float32
}

// NewUpsample returns an upsampling by scale with mode "nearest" or "bilinear".
func NewUpsample(scale int, mode string) *Upsample {
	if scale < 1 || (mode != "nearest" && mode != "bilinear") {
		panic(fmt.Sprintf("nn: NewUpsample: scale %d, mode %q (want scale >= 1, nearest or bilinear)", scale, mode))
	}
	return &Upsample{Scale: scale, Mode: mode}
}

// taps computes PyTorch's source indices and weights for out = in*Scale
// positions, in float32 as PyTorch's CPU kernel does.
func (l *Upsample) taps(buf *[]bilinearTap, in int) []bilinearTap {
	out := in * l.Scale
	t := ensureBuf(buf, out)
	ratio := 1 / float32(l.Scale)
	for o := range t {
		src := ratio*(float32(o)+0.5) - 0.5
		if src < 0 {
			src = 0
		}
		i0 := int(src)
		i1 := i0
		if i0 < in-1 {
			i1 = i0 + 1
		}
		l1 := src - float32(i0)
		t[o] = bilinearTap{i0: i0, i1: i1, l0: 1 - l1, l1: l1}
	}
	return t
}

// Forward upsamples x, [N, H, W, C].
func (l *Upsample) Forward(x *tensor.Tensor) *tensor.Tensor {
	if x.Dims() != 4 {
		panic(fmt.Sprintf("nn: Upsample: input shape %v, want [N, H, W, C]", x.Shape))
	}
	x = x.Contiguous()
	l.x = x
	N, H, W, C := x.Dim(0), x.Dim(1), x.Dim(2), x.Dim(3)
	s := l.Scale
	OH, OW := H*s, W*s
	y := tensor.Ensure(&l.y, N, OH, OW, C)
	xv, yv := x.Values(), y.Values()
	if l.Mode == "nearest" {
		tensor.Parallel(N*OH, 1, func(lo, hi int) {
			for u := lo; u < hi; u++ {
				n, oy := u/OH, u%OH
				src := xv[(n*H+oy/s)*W*C:]
				dst := yv[u*OW*C : (u+1)*OW*C]
				for ox := 0; ox < OW; ox++ {
					copy(dst[ox*C:(ox+1)*C], src[(ox/s)*C:])
				}
			}
		})
		return y
	}
	ht, wt := l.taps(&l.hTaps, H), l.taps(&l.wTaps, W)
	tensor.Parallel(N*OH, 1, func(lo, hi int) {
		for u := lo; u < hi; u++ {
			n, oy := u/OH, u%OH
			th := ht[oy]
			r0, r1 := xv[(n*H+th.i0)*W*C:], xv[(n*H+th.i1)*W*C:]
			for ox := 0; ox < OW; ox++ {
				tw := wt[ox]
				w00, w01, w10, w11 := th.l0*tw.l0, th.l0*tw.l1, th.l1*tw.l0, th.l1*tw.l1
				a, b := r0[tw.i0*C:][:C], r0[tw.i1*C:][:C]
				c, d := r1[tw.i0*C:][:C], r1[tw.i1*C:][:C]
				out := yv[(u*OW+ox)*C:][:C]
				for j := range out {
					out[j] = w00*a[j] + w01*b[j] + w10*c[j] + w11*d[j]
				}
			}
		}
	})
	return y
}

// Backward returns dL/dx: each input pixel collects the gradients of the
// output pixels it fed, with the same weights.
func (l *Upsample) Backward(dy *tensor.Tensor) *tensor.Tensor {
	if l.x == nil || !tensor.SameShape(dy, l.y) {
		panic(fmt.Sprintf("nn: Upsample: Backward with dy %v after output %v", dy.Shape, shapeOrNil(l.y)))
	}
	dy = dy.Contiguous()
	N, H, W, C := l.x.Dim(0), l.x.Dim(1), l.x.Dim(2), l.x.Dim(3)
	s := l.Scale
	OH, OW := H*s, W*s
	dx := tensor.Ensure(&l.dx, l.x.Shape...)
	dxv, dyv := dx.Values(), dy.Values()
	if l.Mode == "nearest" {
		// Gather: input row (n, iy) sums output rows iy*s .. iy*s+s-1.
		tensor.Parallel(N*H, 1, func(lo, hi int) {
			for u := lo; u < hi; u++ {
				n, iy := u/H, u%H
				dst := dxv[u*W*C : (u+1)*W*C]
				clear(dst)
				for a := 0; a < s; a++ {
					row := dyv[(n*OH+iy*s+a)*OW*C:][:OW*C]
					for ox := 0; ox < OW; ox++ {
						d := dst[(ox/s)*C:][:C]
						tensor.Add(d, d, row[ox*C:(ox+1)*C])
					}
				}
			}
		})
		return dx
	}
	ht, wt := l.hTaps, l.wTaps
	tensor.Parallel(N, 1, func(lo, hi int) {
		for n := lo; n < hi; n++ {
			img := dxv[n*H*W*C : (n+1)*H*W*C]
			clear(img)
			for oy := 0; oy < OH; oy++ {
				th := ht[oy]
				r0, r1 := img[th.i0*W*C:], img[th.i1*W*C:]
				for ox := 0; ox < OW; ox++ {
					tw := wt[ox]
					g := dyv[((n*OH+oy)*OW+ox)*C:][:C]
					tensor.Axpy(th.l0*tw.l0, g, r0[tw.i0*C:][:C])
					tensor.Axpy(th.l0*tw.l1, g, r0[tw.i1*C:][:C])
					tensor.Axpy(th.l1*tw.l0, g, r1[tw.i0*C:][:C])
					tensor.Axpy(th.l1*tw.l1, g, r1[tw.i1*C:][:C])
				}
			}
		}
	})
	return dx
}
