package transform

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/deepscope/deepscope/tensor"
)

// Filter is the reconstruction kernel used when resampling.
type Filter int

const (
	// CatmullRom is the cubic convolution kernel with a = -0.5 (Pillow's
	// BICUBIC): sharp, with a slight overshoot that is clamped to [0, 1].
	CatmullRom Filter = iota
	// Bilinear is the triangle kernel (Pillow's BILINEAR, torchvision's
	// default with antialias=True).
	Bilinear
	// Lanczos3 is the windowed sinc with three lobes.
	Lanczos3
)

func (f Filter) String() string {
	switch f {
	case CatmullRom:
		return "catmull-rom"
	case Bilinear:
		return "bilinear"
	case Lanczos3:
		return "lanczos3"
	}
	return fmt.Sprintf("Filter(%d)", int(f))
}

// support is the kernel's half-width at scale 1.
func (f Filter) support() float64 {
	switch f {
	case Bilinear:
		return 1
	case Lanczos3:
		return 3
	}
	return 2
}

func (f Filter) at(x float64) float64 {
	x = math.Abs(x)
	switch f {
	case Bilinear:
		if x < 1 {
			return 1 - x
		}
		return 0
	case Lanczos3:
		if x < 3 {
			return sinc(x) * sinc(x/3)
		}
		return 0
	}
	const a = -0.5
	switch {
	case x < 1:
		return ((a+2)*x-(a+3))*x*x + 1
	case x < 2:
		return (((x-5)*x+8)*x - 4) * a
	}
	return 0
}

func sinc(x float64) float64 {
	if x == 0 {
		return 1
	}
	x *= math.Pi
	return math.Sin(x) / x
}

// taps are the resampling weights along one axis: output i reads inputs
// first[i] .. first[i]+n[i]-1 with weights w[i*width : i*width+n[i]].
type taps struct {
	first, n []int
	w        []float32
	width    int
}

// makeTaps computes the weights that map the input interval
// [start, start+length) of an axis of inSize pixels onto out pixels. When
// shrinking, the kernel is stretched by the scale factor, so every output
// pixel averages all the input it covers (antialiasing), as Pillow does.
// Taps outside the image are dropped and the rest renormalised.
func makeTaps(f Filter, inSize int, start, length float64, out int) taps {
	scale := length / float64(out)
	fs := math.Max(scale, 1)
	support := f.support() * fs
	width := int(math.Ceil(support))*2 + 1
	t := taps{first: make([]int, out), n: make([]int, out), w: make([]float32, out*width), width: width}
	for i := range out {
		center := start + (float64(i)+0.5)*scale
		lo := max(int(math.Floor(center-support+0.5)), 0)
		hi := min(int(math.Floor(center+support+0.5)), inSize)
		if hi <= lo { // the interval lies outside the image: take the nearest pixel
			lo = min(max(int(center), 0), inSize-1)
			hi = lo + 1
		}
		hi = min(hi, lo+width)
		var sum float64
		ws := t.w[i*width : i*width+hi-lo]
		for j := lo; j < hi; j++ {
			x := f.at((float64(j) + 0.5 - center) / fs)
			ws[j-lo] = float32(x)
			sum += x
		}
		if sum == 0 {
			ws[0], sum = 1, 1
		}
		t.first[i], t.n[i] = lo, hi-lo
		for k := range ws {
			ws[k] = float32(float64(ws[k]) / sum)
		}
	}
	return t
}

// resample maps the rectangle (y0, x0, h, w) of img, in pixels, onto an
// image of outH x outW, first along rows then along columns.
func resample(img *tensor.Tensor, y0, x0, h, w float64, outH, outW int, f Filter) *tensor.Tensor {
	H, W, C, src := dims("resample", img)
	ty := makeTaps(f, H, y0, h, outH)
	tx := makeTaps(f, W, x0, w, outW)
	// Rows of the source that the vertical pass reads.
	rlo, rhi := H, 0
	for i := range outH {
		rlo = min(rlo, ty.first[i])
		rhi = max(rhi, ty.first[i]+ty.n[i])
	}
	tmp := make([]float32, (rhi-rlo)*outW*C)
	for r := rlo; r < rhi; r++ {
		row := src[r*W*C : (r+1)*W*C]
		dst := tmp[(r-rlo)*outW*C : (r-rlo+1)*outW*C]
		for j := range outW {
			wts := tx.w[j*tx.width : j*tx.width+tx.n[j]]
			in := row[tx.first[j]*C:]
			if C == 3 {
				var s0, s1, s2 float32
				for k, wk := range wts {
					p := in[3*k : 3*k+3]
					s0 += wk * p[0]
					s1 += wk * p[1]
					s2 += wk * p[2]
				}
				dst[3*j], dst[3*j+1], dst[3*j+2] = s0, s1, s2
				continue
			}
			for c := range C {
				var s float32
				for k, wk := range wts {
					s += wk * in[k*C+c]
				}
				dst[j*C+c] = s
			}
		}
	}
	out := tensor.New(outH, outW, C)
	ov := out.Data
	stride := outW * C
	for i := range outH {
		wts := ty.w[i*ty.width : i*ty.width+ty.n[i]]
		dst := ov[i*stride : (i+1)*stride]
		base := (ty.first[i] - rlo) * stride
		for k, wk := range wts {
			in := tmp[base+k*stride : base+(k+1)*stride]
			for j, v := range in {
				dst[j] += wk * v
			}
		}
		for j, v := range dst {
			dst[j] = clamp01(v)
		}
	}
	return out
}

// Resize scales an image to H x W pixels, antialiasing when it shrinks.
// Values are clamped to [0, 1] (cubic and Lanczos kernels overshoot).
type Resize struct {
	H, W   int
	Filter Filter // CatmullRom when zero
}

// Apply implements Transform; rng is not used.
func (r Resize) Apply(img *tensor.Tensor, _ *rand.Rand) *tensor.Tensor {
	h, w, _, _ := dims("Resize", img)
	if h == r.H && w == r.W {
		return img
	}
	return resample(img, 0, 0, float64(h), float64(w), r.H, r.W, r.Filter)
}

func (r Resize) String() string { return fmt.Sprintf("Resize(%dx%d, %v)", r.H, r.W, r.Filter) }

// ResizeTo returns img resized to h x w with the Catmull-Rom filter.
func ResizeTo(img *tensor.Tensor, h, w int) *tensor.Tensor {
	return Resize{H: h, W: w}.Apply(img, nil)
}

// CenterCrop cuts the central H x W window; an image smaller than that is
// padded with zeros on the missing sides, as torchvision does.
type CenterCrop struct{ H, W int }

// Apply implements Transform; rng is not used.
func (cc CenterCrop) Apply(img *tensor.Tensor, _ *rand.Rand) *tensor.Tensor {
	h, w, c, v := dims("CenterCrop", img)
	if h == cc.H && w == cc.W {
		return img
	}
	top := int(math.Round(float64(h-cc.H) / 2))
	left := int(math.Round(float64(w-cc.W) / 2))
	return crop(v, h, w, c, top, left, cc.H, cc.W)
}

func (cc CenterCrop) String() string { return fmt.Sprintf("CenterCrop(%dx%d)", cc.H, cc.W) }

// crop copies the window at (top, left) of size hh x ww, zero outside the image.
func crop(v []float32, h, w, c, top, left, hh, ww int) *tensor.Tensor {
	out := tensor.New(hh, ww, c)
	for y := range hh {
		sy := top + y
		if sy < 0 || sy >= h {
			continue
		}
		x0, x1 := max(0, -left), min(ww, w-left)
		if x0 >= x1 {
			continue
		}
		copy(out.Data[(y*ww+x0)*c:(y*ww+x1)*c], v[(sy*w+left+x0)*c:(sy*w+left+x1)*c])
	}
	return out
}

// RandomResizedCrop cuts a window of random area and aspect ratio and
// resizes it to H x W, as torchvision.transforms.RandomResizedCrop: the area
// is a fraction in Scale of the image's, the aspect ratio w/h is
// log-uniform in Ratio; after ten failed draws it falls back to a central
// crop of the nearest allowed ratio.
type RandomResizedCrop struct {
	H, W   int
	Scale  [2]float64 // [0.08, 1] when zero
	Ratio  [2]float64 // [3/4, 4/3] when zero
	Filter Filter     // CatmullRom when zero
}

// Apply implements Transform.
func (r RandomResizedCrop) Apply(img *tensor.Tensor, rng *rand.Rand) *tensor.Tensor {
	h, w, _, _ := dims("RandomResizedCrop", img)
	top, left, ch, cw := r.window(h, w, rng)
	return resample(img, float64(top), float64(left), float64(ch), float64(cw), r.H, r.W, r.Filter)
}

func (r RandomResizedCrop) params() (scale, ratio [2]float64) {
	scale, ratio = r.Scale, r.Ratio
	if scale == [2]float64{} {
		scale = [2]float64{0.08, 1}
	}
	if ratio == [2]float64{} {
		ratio = [2]float64{3.0 / 4, 4.0 / 3}
	}
	return scale, ratio
}

func (r RandomResizedCrop) window(h, w int, rng *rand.Rand) (top, left, ch, cw int) {
	scale, ratio := r.params()
	area := float64(h * w)
	lr0, lr1 := math.Log(ratio[0]), math.Log(ratio[1])
	for range 10 {
		target := area * uniform(rng, scale[0], scale[1])
		aspect := math.Exp(uniform(rng, lr0, lr1))
		cw = int(math.Round(math.Sqrt(target * aspect)))
		ch = int(math.Round(math.Sqrt(target / aspect)))
		if cw > 0 && cw <= w && ch > 0 && ch <= h {
			top = rng.IntN(h - ch + 1)
			left = rng.IntN(w - cw + 1)
			return top, left, ch, cw
		}
	}
	in := float64(w) / float64(h)
	switch {
	case in < ratio[0]:
		cw, ch = w, int(math.Round(float64(w)/ratio[0]))
	case in > ratio[1]:
		ch, cw = h, int(math.Round(float64(h)*ratio[1]))
	default:
		ch, cw = h, w
	}
	return (h - ch) / 2, (w - cw) / 2, ch, cw
}

func (r RandomResizedCrop) String() string {
	s, q := r.params()
	return fmt.Sprintf("RandomResizedCrop(%dx%d, scale=%g-%g, ratio=%.3g-%.3g, %v)", r.H, r.W, s[0], s[1], q[0], q[1], r.Filter)
}
