package transform

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/deepscope/deepscope/tensor"
)

// Nucleus is where FindNucleus found a cell's nucleus, in pixels.
type Nucleus struct {
	X, Y     float64 // centroid: column and row
	Diameter float64 // equivalent diameter: that of a disc of the same area
	Area     int     // pixels of the nucleus mask
}

// ErrNoNucleus is returned (wrapped) by FindNucleus for an image in which
// no nucleus stands out: a blank field, or a stain covering most of it.
var ErrNoNucleus = errors.New("no nucleus found")

// FindNucleus locates the nucleus of the cell an image is centred on, by
// colour deconvolution and thresholding: the haematoxylin amount of each
// pixel (ToHED's first channel; azure-stained nuclei of blood smears land
// there too), smoothed by a box filter of radius min(H, W)/64 (at least 1),
// is thresholded by Otsu's method; the largest 4-connected region of the
// mask is the nucleus, joined by the regions of at least a tenth of its
// area whose centroids lie within one of its diameters (the lobes of a
// neutrophil, the halves of an eosinophil's nucleus). The result scales
// with the image: twice the magnification gives twice the diameter.
func FindNucleus(img *tensor.Tensor) (Nucleus, error) {
	h, w, v := rgb("FindNucleus", img)
	hem := make([]float32, h*w)
	for i := range hem {
		d0, d1, d2 := odFast(v[3*i]), odFast(v[3*i+1]), odFast(v[3*i+2])
		hem[i] = float32(float64(d0)*hedFromRGB[0][0] + float64(d1)*hedFromRGB[1][0] + float64(d2)*hedFromRGB[2][0])
	}
	hem = boxBlur(hem, h, w, max(1, min(h, w)/64))
	lo, hi := slices.Min(hem), slices.Max(hem)
	if hi-lo < 0.05 {
		return Nucleus{}, fmt.Errorf("transform: FindNucleus: %w (haematoxylin range %.3g)", ErrNoNucleus, hi-lo)
	}
	t := otsu(hem, lo, hi)
	mask := make([]bool, len(hem))
	for i, x := range hem {
		mask[i] = x > t
	}
	regions := components(mask, h, w)
	if len(regions) == 0 {
		return Nucleus{}, fmt.Errorf("transform: FindNucleus: %w (empty mask)", ErrNoNucleus)
	}
	big := regions[0]
	for _, r := range regions[1:] {
		if r.n > big.n {
			big = r
		}
	}
	bx, by := big.sx/float64(big.n), big.sy/float64(big.n)
	reach := 2 * math.Sqrt(float64(big.n)/math.Pi)
	var sx, sy float64
	n := 0
	for _, r := range regions {
		cx, cy := r.sx/float64(r.n), r.sy/float64(r.n)
		if r.n*10 >= big.n && math.Hypot(cx-bx, cy-by) <= reach {
			sx, sy, n = sx+r.sx, sy+r.sy, n+r.n
		}
	}
	if n*10 > 6*h*w {
		return Nucleus{}, fmt.Errorf("transform: FindNucleus: %w (the stained region covers %d%% of the image)", ErrNoNucleus, 100*n/(h*w))
	}
	return Nucleus{X: sx / float64(n), Y: sy / float64(n), Diameter: 2 * math.Sqrt(float64(n)/math.Pi), Area: n}, nil
}

// region sums the pixels of one connected region of a mask.
type region struct {
	n      int
	sx, sy float64 // sums of the pixel centres' coordinates
}

// components returns the 4-connected regions of mask [h*w].
func components(mask []bool, h, w int) []region {
	seen := make([]bool, len(mask))
	var out []region
	var stack []int
	for start, on := range mask {
		if !on || seen[start] {
			continue
		}
		var r region
		seen[start] = true
		stack = append(stack[:0], start)
		for len(stack) > 0 {
			p := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			y, x := p/w, p%w
			r.n++
			r.sx += float64(x) + 0.5
			r.sy += float64(y) + 0.5
			for _, q := range [4]int{p - w, p + w, p - 1, p + 1} {
				switch {
				case q < 0 || q >= len(mask):
					continue
				case (q == p-1 || q == p+1) && q/w != y:
					continue
				}
				if mask[q] && !seen[q] {
					seen[q] = true
					stack = append(stack, q)
				}
			}
		}
		out = append(out, r)
	}
	return out
}

// otsu returns the threshold between lo and hi that maximises the
// between-class variance of x's 256-bin histogram (Otsu, 1979).
func otsu(x []float32, lo, hi float32) float32 {
	const bins = 256
	var hist [bins]float64
	scale := float32(bins-1) / (hi - lo)
	for _, v := range x {
		hist[int((v-lo)*scale)]++
	}
	var total, sumAll float64
	for i, c := range hist {
		total += c
		sumAll += float64(i) * c
	}
	var wB, sumB, best float64
	bestI := 0
	for i, c := range hist {
		wB += c
		if wB == 0 {
			continue
		}
		wF := total - wB
		if wF == 0 {
			break
		}
		sumB += float64(i) * c
		mB, mF := sumB/wB, (sumAll-sumB)/wF
		if between := wB * wF * (mB - mF) * (mB - mF); between > best {
			best, bestI = between, i
		}
	}
	return lo + (float32(bestI)+0.5)/scale
}

// boxBlur returns the mean of each pixel's (2r+1)² neighbourhood of a
// single-channel image, the window shrunk at the borders.
func boxBlur(x []float32, h, w, r int) []float32 {
	tmp := make([]float32, len(x))
	out := make([]float32, len(x))
	for y := range h {
		row := x[y*w : (y+1)*w]
		for c := range w {
			lo, hi := max(0, c-r), min(w, c+r+1)
			var s float32
			for _, v := range row[lo:hi] {
				s += v
			}
			tmp[y*w+c] = s / float32(hi-lo)
		}
	}
	for y := range h {
		lo, hi := max(0, y-r), min(h, y+r+1)
		for c := range w {
			var s float32
			for k := lo; k < hi; k++ {
				s += tmp[k*w+c]
			}
			out[y*w+c] = s / float32(hi-lo)
		}
	}
	return out
}
