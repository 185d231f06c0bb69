package data

import (
	"math"
	"sync"

	"github.com/deepscope/deepscope/tensor"
)

// The resampler: separable convolution with a Catmull-Rom kernel widened by
// the downscale factor (an antialiasing filter, as in PIL's resize), over a
// source box with fractional edges. The weights depend only on the geometry,
// so they are computed once per (size, box, output) and shared by every image
// of that geometry.

// taps holds, for each output position, the first input index and n weights.
type taps struct {
	n     int
	start []int
	w     []float32 // len(start)*n, zero-padded
}

type tapsKey struct {
	in, out int
	b0, b1  float64
}

var tapsCache sync.Map // tapsKey -> *taps

// catmullRom is the cubic convolution kernel with a = -0.5.
func catmullRom(x float64) float64 {
	x = math.Abs(x)
	switch {
	case x < 1:
		return (1.5*x-2.5)*x*x + 1
	case x < 2:
		return ((-0.5*x+2.5)*x-4)*x + 2
	}
	return 0
}

// makeTaps returns the weights that map the box [b0, b1) of an axis of in
// samples onto out samples. Every output reads exactly n inputs from start
// (zero weights pad the shorter ones), all inside [0, in), so the loops
// that apply them need no bounds tests.
func makeTaps(in, out int, b0, b1 float64) *taps {
	key := tapsKey{in, out, b0, b1}
	if t, ok := tapsCache.Load(key); ok {
		return t.(*taps)
	}
	scale := (b1 - b0) / float64(out)
	fs := math.Max(scale, 1) // filter stretch when shrinking
	support := 2 * fs
	n := min(int(math.Ceil(support))*2+1, in)
	t := &taps{n: n, start: make([]int, out), w: make([]float32, out*n)}
	ws := make([]float64, n)
	for i := 0; i < out; i++ {
		c := b0 + (float64(i)+0.5)*scale
		lo := max(int(math.Floor(c-support+0.5)), 0)
		hi := min(int(math.Ceil(c+support+0.5)), in, lo+n)
		var sum float64
		for j := lo; j < hi; j++ {
			ws[j-lo] = catmullRom((float64(j) + 0.5 - c) / fs)
			sum += ws[j-lo]
		}
		if hi <= lo || sum == 0 { // box entirely outside: take the nearest pixel
			lo = min(max(int(c), 0), in-1)
			hi, ws[0], sum = lo+1, 1, 1
		}
		start := min(lo, in-n)
		t.start[i] = start
		for j := lo; j < hi; j++ {
			t.w[i*n+j-start] = float32(ws[j-lo] / sum)
		}
	}
	actual, _ := tapsCache.LoadOrStore(key, t)
	return actual.(*taps)
}

// resize maps the box [x0,x1)×[y0,y1) of img [H, W, C] onto an [oh, ow, C]
// image, clamping the result to [0, 1] (cubic kernels overshoot). The
// result goes in *out and the intermediate rows in *scratch, both reused
// when large enough (nil pointers: fresh memory).
func resize(img *tensor.Tensor, x0, y0, x1, y1 float64, oh, ow int, out **tensor.Tensor, scratch *[]float32) *tensor.Tensor {
	h, w, c := img.Shape[0], img.Shape[1], img.Shape[2]
	tx := makeTaps(w, ow, x0, x1)
	ty := makeTaps(h, oh, y0, y1)
	// Rows that the vertical pass reads.
	rlo, rhi := ty.span(h)
	var tmp []float32
	if scratch == nil {
		scratch = &tmp
	}
	if n := (rhi - rlo) * ow * c; cap(*scratch) < n {
		*scratch = make([]float32, n)
	} else {
		*scratch = (*scratch)[:n]
	}
	tmp = *scratch
	src := img.Data
	n := tx.n
	for y := rlo; y < rhi; y++ {
		row := src[y*w*c : (y+1)*w*c]
		dst := tmp[(y-rlo)*ow*c : (y-rlo+1)*ow*c]
		for i := 0; i < ow; i++ {
			wt := tx.w[i*n : (i+1)*n]
			p := row[tx.start[i]*c : (tx.start[i]+n)*c]
			if c == 3 {
				var r, g, b float32
				for k, wk := range wt {
					q := p[3*k : 3*k+3 : 3*k+3]
					r += wk * q[0]
					g += wk * q[1]
					b += wk * q[2]
				}
				dst[3*i], dst[3*i+1], dst[3*i+2] = r, g, b
				continue
			}
			for ch := 0; ch < c; ch++ {
				var s float32
				for k, wk := range wt {
					s += wk * p[k*c+ch]
				}
				dst[i*c+ch] = s
			}
		}
	}
	var res *tensor.Tensor
	if out == nil {
		out = &res
	}
	o := tensor.Ensure(out, oh, ow, c)
	stride := ow * c
	for i := 0; i < oh; i++ {
		wt := ty.w[i*ty.n : (i+1)*ty.n]
		dst := o.Data[i*stride : (i+1)*stride]
		clear(dst)
		for k, wk := range wt {
			if wk == 0 {
				continue
			}
			y := ty.start[i] + k
			srow := tmp[(y-rlo)*stride : (y-rlo+1)*stride]
			for j, v := range srow {
				dst[j] += wk * v
			}
		}
		for j, v := range dst {
			dst[j] = min(max(v, 0), 1)
		}
	}
	return o
}

// span returns the range of input indices that t's non-zero weights touch.
func (ty *taps) span(h int) (lo, hi int) {
	lo, hi = h, 0
	for i, s := range ty.start {
		for k := 0; k < ty.n; k++ {
			if ty.w[i*ty.n+k] != 0 {
				lo, hi = min(lo, s+k), max(hi, s+k+1)
			}
		}
	}
	if hi < lo {
		hi = lo
	}
	return lo, hi
}
