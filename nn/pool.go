package nn

import (
	"fmt"
	"math"

	"github.com/deepscope/deepscope/tensor"
)

// poolGeom checks a pooling input [N, H, W, C] and returns its geometry.
func poolGeom(what string, x *tensor.Tensor, k, s, p int) tensor.ConvGeom {
	if x.Dims() != 4 {
		panic(fmt.Sprintf("nn: %s: input shape %v, want [N, H, W, C]", what, x.Shape))
	}
	if x.Dim(1)+2*p < k || x.Dim(2)+2*p < k {
		panic(fmt.Sprintf("nn: %s: input %dx%d too small for kernel %d with padding %d", what, x.Dim(1), x.Dim(2), k, p))
	}
	return tensor.ConvGeom{N: x.Dim(0), H: x.Dim(1), W: x.Dim(2), C: x.Dim(3), KH: k, KW: k, SH: s, SW: s, PH: p, PW: p}
}

func checkPoolArgs(what string, k, stride, padding int) int {
	if stride == 0 {
		stride = k
	}
	if k <= 0 || stride < 0 || padding < 0 || 2*padding > k {
		panic(fmt.Sprintf("nn: %s: kernel %d, stride %d, padding %d (padding must be at most half the kernel)", what, k, stride, padding))
	}
	return stride
}

// MaxPool2d takes the maximum over Kernel×Kernel windows moved by Stride
// over the input padded with -Inf, as PyTorch's nn.MaxPool2d (dilation 1,
// ceil_mode off): OH = (H + 2*Padding - Kernel)/Stride + 1. A NaN in a
// window makes the output NaN. The gradient goes where PyTorch sends it:
// to the window's first maximum in row-major order, or its last NaN.
//
// Forward keeps no indices: Backward finds each window's maximum again by
// comparing the input with the output, which costs less than tracking the
// argument during Forward (whose branches the data decide) and nothing in
// evaluation. It needs the output unchanged until then.
type MaxPool2d struct {
	Kernel, Stride, Padding int

	x, y, dx *tensor.Tensor
	at       []int32 // per thread: each channel's chosen input in Backward
}

// NewMaxPool2d returns a max pooling; stride 0 means stride = k, as in PyTorch.
func NewMaxPool2d(k, stride, padding int) *MaxPool2d {
	return &MaxPool2d{Kernel: k, Stride: checkPoolArgs("NewMaxPool2d", k, stride, padding), Padding: padding}
}

// Forward pools x, [N, H, W, C].
func (l *MaxPool2d) Forward(x *tensor.Tensor) *tensor.Tensor {
	g := poolGeom("MaxPool2d", x, l.Kernel, l.Stride, l.Padding)
	x = x.Contiguous()
	l.x = x
	oh, ow, C := g.OutH(), g.OutW(), g.C
	y := tensor.Ensure(&l.y, g.N, oh, ow, C)
	xv, yv := x.Values(), y.Values()
	tensor.Parallel(g.N*oh, 1, func(lo, hi int) {
		for u := lo; u < hi; u++ {
			n, oy := u/oh, u%oh
			for ox := 0; ox < ow; ox++ {
				best := yv[(u*ow+ox)*C:][:C]
				for j := range best {
					best[j] = float32(math.Inf(-1))
				}
				l.window(g, n, oy, ox, func(off int) {
					for j, v := range xv[off : off+C] {
						best[j] = max(best[j], v) // NaN wins
					}
				})
			}
		}
	})
	return y
}

// window calls fn with the offset into x of each input pixel under output
// pixel (n, oy, ox), in row-major order, padding skipped.
func (l *MaxPool2d) window(g tensor.ConvGeom, n, oy, ox int, fn func(off int)) {
	for kh := 0; kh < g.KH; kh++ {
		ih := oy*g.SH - g.PH + kh
		if ih < 0 || ih >= g.H {
			continue
		}
		for kw := 0; kw < g.KW; kw++ {
			iw := ox*g.SW - g.PW + kw
			if iw < 0 || iw >= g.W {
				continue
			}
			fn(((n*g.H+ih)*g.W + iw) * g.C)
		}
	}
}

// Backward sends each output gradient to the input its maximum came from.
func (l *MaxPool2d) Backward(dy *tensor.Tensor) *tensor.Tensor {
	if l.x == nil || !tensor.SameShape(dy, l.y) {
		panic(fmt.Sprintf("nn: MaxPool2d: Backward with dy %v after output %v", dy.Shape, shapeOrNil(l.y)))
	}
	dy = dy.Contiguous()
	g := poolGeom("MaxPool2d", l.x, l.Kernel, l.Stride, l.Padding)
	oh, ow, C := g.OutH(), g.OutW(), g.C
	dx := tensor.Ensure(&l.dx, l.x.Shape...)
	xv, yv, dxv, dyv := l.x.Values(), l.y.Values(), dx.Values(), dy.Values()
	at := ensureBuf(&l.at, tensor.Threads()*C)
	// Windows overlap, so each image is one piece of work.
	parallelChunks(g.N, func(i, lo, hi int) {
		idx := at[i*C : (i+1)*C]
		for n := lo; n < hi; n++ {
			clear(dxv[n*g.H*g.W*C : (n+1)*g.H*g.W*C])
			for oy := 0; oy < oh; oy++ {
				for ox := 0; ox < ow; ox++ {
					o := ((n*oh+oy)*ow + ox) * C
					ys, ds := yv[o:o+C], dyv[o:o+C]
					for j := range idx {
						idx[j] = -1
					}
					// Scan the window backwards so the last match kept is
					// the first maximum; the select compiles without a branch.
					for kh := g.KH - 1; kh >= 0; kh-- {
						ih := oy*g.SH - g.PH + kh
						if ih < 0 || ih >= g.H {
							continue
						}
						for kw := g.KW - 1; kw >= 0; kw-- {
							iw := ox*g.SW - g.PW + kw
							if iw < 0 || iw >= g.W {
								continue
							}
							off := ((n*g.H+ih)*g.W + iw) * C
							xs, yw, aw := xv[off:off+C], ys[:C], idx[:C]
							for j, v := range xs {
								k := aw[j]
								if v == yw[j] {
									k = int32(off + j)
								}
								aw[j] = k
							}
						}
					}
					for j, k := range idx {
						if k < 0 {
							l.nanBackward(g, n, oy, ox, xv, j, ds[j], dxv)
							continue
						}
						dxv[k] += ds[j]
					}
				}
			}
		}
	})
	return dx
}

// nanBackward sends channel j's gradient d, whose output is NaN (no input
// compares equal to it), to the window's last NaN, where PyTorch sends it.
func (l *MaxPool2d) nanBackward(g tensor.ConvGeom, n, oy, ox int, x []float32, j int, d float32, dx []float32) {
	last := -1
	l.window(g, n, oy, ox, func(off int) {
		if v := x[off+j]; v != v {
			last = off + j
		}
	})
	if last >= 0 {
		dx[last] += d
	}
}

// AvgPool2d averages Kernel×Kernel windows moved by Stride over the input
// padded with zeros, dividing by the whole window (PyTorch's nn.AvgPool2d
// defaults: count_include_pad on, ceil_mode off).
type AvgPool2d struct {
	Kernel, Stride, Padding int

	x, y, dx *tensor.Tensor
}

// NewAvgPool2d returns an average pooling; stride 0 means stride = k, as in PyTorch.
func NewAvgPool2d(k, stride, padding int) *AvgPool2d {
	return &AvgPool2d{Kernel: k, Stride: checkPoolArgs("NewAvgPool2d", k, stride, padding), Padding: padding}
}

// window returns output row or column o's input range [lo, hi) clipped to
// the input of size n, and the divisor PyTorch uses: the window clipped to
// the padded input only.
func (l *AvgPool2d) window(o, n int) (lo, hi, size int) {
	lo = o*l.Stride - l.Padding
	hi = min(lo+l.Kernel, n+l.Padding)
	size = hi - lo
	return max(lo, 0), min(hi, n), size
}

// Forward pools x, [N, H, W, C].
func (l *AvgPool2d) Forward(x *tensor.Tensor) *tensor.Tensor {
	g := poolGeom("AvgPool2d", x, l.Kernel, l.Stride, l.Padding)
	x = x.Contiguous()
	l.x = x
	oh, ow, C := g.OutH(), g.OutW(), g.C
	y := tensor.Ensure(&l.y, g.N, oh, ow, C)
	xv, yv := x.Values(), y.Values()
	tensor.Parallel(g.N*oh, 1, func(lo, hi int) {
		for u := lo; u < hi; u++ {
			n, oy := u/oh, u%oh
			h0, h1, sh := l.window(oy, g.H)
			for ox := 0; ox < ow; ox++ {
				w0, w1, sw := l.window(ox, g.W)
				acc := yv[(u*ow+ox)*C:][:C]
				clear(acc)
				for ih := h0; ih < h1; ih++ {
					for iw := w0; iw < w1; iw++ {
						o := ((n*g.H+ih)*g.W + iw) * C
						tensor.Add(acc, acc, xv[o:o+C])
					}
				}
				tensor.Scale(1/float32(sh*sw), acc)
			}
		}
	})
	return y
}

// Backward spreads each output gradient evenly over its window.
func (l *AvgPool2d) Backward(dy *tensor.Tensor) *tensor.Tensor {
	if l.x == nil || !tensor.SameShape(dy, l.y) {
		panic(fmt.Sprintf("nn: AvgPool2d: Backward with dy %v after output %v", dy.Shape, shapeOrNil(l.y)))
	}
	dy = dy.Contiguous()
	g := poolGeom("AvgPool2d", l.x, l.Kernel, l.Stride, l.Padding)
	oh, ow, C := g.OutH(), g.OutW(), g.C
	dx := tensor.Ensure(&l.dx, l.x.Shape...)
	dxv, dyv := dx.Values(), dy.Values()
	tensor.Parallel(g.N, 1, func(lo, hi int) {
		for n := lo; n < hi; n++ {
			clear(dxv[n*g.H*g.W*C : (n+1)*g.H*g.W*C])
			for oy := 0; oy < oh; oy++ {
				h0, h1, sh := l.window(oy, g.H)
				for ox := 0; ox < ow; ox++ {
					w0, w1, sw := l.window(ox, g.W)
					d := dyv[((n*oh+oy)*ow+ox)*C:][:C]
					f := 1 / float32(sh*sw)
					for ih := h0; ih < h1; ih++ {
						for iw := w0; iw < w1; iw++ {
							o := ((n*g.H+ih)*g.W + iw) * C
							tensor.Axpy(f, d, dxv[o:o+C])
						}
					}
				}
			}
		}
	})
	return dx
}

// AdaptiveAvgPool2d averages the input into an OutH×OutW grid whatever its
// size, as PyTorch's nn.AdaptiveAvgPool2d: output cell i covers input rows
// floor(i*H/OutH) to ceil((i+1)*H/OutH) (exclusive), and likewise columns.
type AdaptiveAvgPool2d struct {
	OutH, OutW int

	x, y, dx *tensor.Tensor
}

// NewAdaptiveAvgPool2d returns an adaptive average pooling to oh×ow.
func NewAdaptiveAvgPool2d(oh, ow int) *AdaptiveAvgPool2d {
	if oh <= 0 || ow <= 0 {
		panic(fmt.Sprintf("nn: NewAdaptiveAvgPool2d: output %dx%d", oh, ow))
	}
	return &AdaptiveAvgPool2d{OutH: oh, OutW: ow}
}

// adaptiveRange returns the input range [lo, hi) of output cell i of o
// cells over n inputs.
func adaptiveRange(i, o, n int) (int, int) {
	return i * n / o, ((i+1)*n + o - 1) / o
}

// Forward pools x, [N, H, W, C], to [N, OutH, OutW, C].
func (l *AdaptiveAvgPool2d) Forward(x *tensor.Tensor) *tensor.Tensor {
	if x.Dims() != 4 {
		panic(fmt.Sprintf("nn: AdaptiveAvgPool2d: input shape %v, want [N, H, W, C]", x.Shape))
	}
	x = x.Contiguous()
	l.x = x
	N, H, W, C := x.Dim(0), x.Dim(1), x.Dim(2), x.Dim(3)
	oh, ow := l.OutH, l.OutW
	y := tensor.Ensure(&l.y, N, oh, ow, C)
	xv, yv := x.Values(), y.Values()
	tensor.Parallel(N*oh, 1, func(lo, hi int) {
		for u := lo; u < hi; u++ {
			n, oy := u/oh, u%oh
			h0, h1 := adaptiveRange(oy, oh, H)
			for ox := 0; ox < ow; ox++ {
				w0, w1 := adaptiveRange(ox, ow, W)
				acc := yv[(u*ow+ox)*C:][:C]
				clear(acc)
				for ih := h0; ih < h1; ih++ {
					for iw := w0; iw < w1; iw++ {
						o := ((n*H+ih)*W + iw) * C
						tensor.Add(acc, acc, xv[o:o+C])
					}
				}
				tensor.Scale(1/float32((h1-h0)*(w1-w0)), acc)
			}
		}
	})
	return y
}

// Backward spreads each output gradient evenly over its cell.
func (l *AdaptiveAvgPool2d) Backward(dy *tensor.Tensor) *tensor.Tensor {
	if l.x == nil || !tensor.SameShape(dy, l.y) {
		panic(fmt.Sprintf("nn: AdaptiveAvgPool2d: Backward with dy %v after output %v", dy.Shape, shapeOrNil(l.y)))
	}
	dy = dy.Contiguous()
	N, H, W, C := l.x.Dim(0), l.x.Dim(1), l.x.Dim(2), l.x.Dim(3)
	oh, ow := l.OutH, l.OutW
	dx := tensor.Ensure(&l.dx, l.x.Shape...)
	dxv, dyv := dx.Values(), dy.Values()
	tensor.Parallel(N, 1, func(lo, hi int) {
		for n := lo; n < hi; n++ {
			clear(dxv[n*H*W*C : (n+1)*H*W*C])
			for oy := 0; oy < oh; oy++ {
				h0, h1 := adaptiveRange(oy, oh, H)
				for ox := 0; ox < ow; ox++ {
					w0, w1 := adaptiveRange(ox, ow, W)
					d := dyv[((n*oh+oy)*ow+ox)*C:][:C]
					f := 1 / float32((h1-h0)*(w1-w0))
					for ih := h0; ih < h1; ih++ {
						for iw := w0; iw < w1; iw++ {
							o := ((n*H+ih)*W + iw) * C
							tensor.Axpy(f, d, dxv[o:o+C])
						}
					}
				}
			}
		}
	})
	return dx
}

// GlobalAvgPool averages each channel over the whole map, [N, H, W, C] to
// [N, C]: adaptive average pooling to 1x1 and a flatten, the head of a
// ResNet. The zero value is ready to use.
type GlobalAvgPool struct {
	x     *tensor.Tensor
	y, dx *tensor.Tensor
}

// NewGlobalAvgPool returns a global average pooling.
func NewGlobalAvgPool() *GlobalAvgPool { return &GlobalAvgPool{} }

// Forward returns the per-channel means of x, [N, C].
func (l *GlobalAvgPool) Forward(x *tensor.Tensor) *tensor.Tensor {
	if x.Dims() != 4 {
		panic(fmt.Sprintf("nn: GlobalAvgPool: input shape %v, want [N, H, W, C]", x.Shape))
	}
	x = x.Contiguous()
	l.x = x
	N, C := x.Dim(0), x.Dim(3)
	P := x.Dim(1) * x.Dim(2)
	y := tensor.Ensure(&l.y, N, C)
	xv, yv := x.Values(), y.Values()
	tensor.Parallel(N, max(1, 16384/(P*C)), func(lo, hi int) {
		for n := lo; n < hi; n++ {
			acc := yv[n*C : (n+1)*C]
			img := xv[n*P*C : (n+1)*P*C]
			copy(acc, img[:C])
			for p := 1; p < P; p++ {
				tensor.Add(acc, acc, img[p*C:(p+1)*C])
			}
			tensor.Scale(1/float32(P), acc)
		}
	})
	return y
}

// Backward spreads dy, [N, C], evenly over each map.
func (l *GlobalAvgPool) Backward(dy *tensor.Tensor) *tensor.Tensor {
	if l.x == nil || !tensor.SameShape(dy, l.y) {
		panic(fmt.Sprintf("nn: GlobalAvgPool: Backward with dy %v after output %v", dy.Shape, shapeOrNil(l.y)))
	}
	dy = dy.Contiguous()
	N, C := l.x.Dim(0), l.x.Dim(3)
	P := l.x.Dim(1) * l.x.Dim(2)
	dx := tensor.Ensure(&l.dx, l.x.Shape...)
	dxv, dyv := dx.Values(), dy.Values()
	tensor.Parallel(N, max(1, 16384/(P*C)), func(lo, hi int) {
		for n := lo; n < hi; n++ {
			img := dxv[n*P*C : (n+1)*P*C]
			row := img[:C]
			copy(row, dyv[n*C:(n+1)*C])
			tensor.Scale(1/float32(P), row)
			for p := 1; p < P; p++ {
				copy(img[p*C:(p+1)*C], row)
			}
		}
	})
	return dx
}
