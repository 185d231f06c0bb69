package explain

import (
	"fmt"
	"math"
)

// Baseline names the reference image that stands for "no information":
// where integrated gradients' path starts and what the perturbation methods
// put in place of the pixels they hide.
type Baseline string

const (
	// BaselineMean is the training images' mean colour: zero after
	// normalisation. The default.
	BaselineMean Baseline = "mean"
	// BaselineBlack is a black image; it needs the normalised value of
	// black (Reference.Black, from the run's mean and standard deviation).
	BaselineBlack Baseline = "black"
	// BaselineBlur is the image blurred by a Gaussian of standard deviation
	// one eighth of its side: its colours stay, its shapes go.
	BaselineBlur Baseline = "blur"
)

// ParseBaseline checks a baseline's name.
func ParseBaseline(s string) (Baseline, error) {
	switch b := Baseline(s); b {
	case BaselineMean, BaselineBlack, BaselineBlur:
		return b, nil
	case "":
		return BaselineMean, nil
	}
	return "", fmt.Errorf("explain: unknown baseline %q (mean, black or blur)", s)
}

// Reference is the reference image of a method.
type Reference struct {
	Baseline Baseline  // "" means BaselineMean
	Black    []float32 // normalised black per channel: (0 - mean) / std
}

// BlackFor returns the normalised value of black per channel for a run's
// per-channel mean and standard deviation.
func BlackFor(mean, std []float32) []float32 {
	b := make([]float32, len(mean))
	for i := range b {
		s := float32(1)
		if i < len(std) && std[i] != 0 {
			s = std[i]
		}
		b[i] = -mean[i] / s
	}
	return b
}

// image returns the reference for the image x [h*w*c] (normalised values).
func (r Reference) image(x []float32, h, w, c int) ([]float32, error) {
	out := make([]float32, len(x))
	switch r.Baseline {
	case "", BaselineMean:
		return out, nil
	case BaselineBlack:
		if len(r.Black) != c {
			return nil, fmt.Errorf("explain: the black baseline needs black's normalised value for each of the %d channels, got %d values", c, len(r.Black))
		}
		for i := range out {
			out[i] = r.Black[i%c]
		}
		return out, nil
	case BaselineBlur:
		gaussianBlur(out, x, h, w, c, float64(max(h, w))/8)
		return out, nil
	}
	return nil, fmt.Errorf("explain: unknown baseline %q (mean, black or blur)", r.Baseline)
}

// gaussianBlur writes into dst the image src [h, w, c] blurred by a
// Gaussian of standard deviation sigma, separably, with edges repeated.
func gaussianBlur(dst, src []float32, h, w, c int, sigma float64) {
	rad := max(1, int(math.Ceil(3*sigma)))
	k := make([]float32, 2*rad+1)
	var sum float32
	for i := range k {
		d := float64(i - rad)
		k[i] = float32(math.Exp(-d * d / (2 * sigma * sigma)))
		sum += k[i]
	}
	for i := range k {
		k[i] /= sum
	}
	tmp := make([]float32, len(src))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			for ch := 0; ch < c; ch++ {
				var v float32
				for i, kv := range k {
					xx := min(max(x+i-rad, 0), w-1)
					v += kv * src[(y*w+xx)*c+ch]
				}
				tmp[(y*w+x)*c+ch] = v
			}
		}
	}
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			for ch := 0; ch < c; ch++ {
				var v float32
				for i, kv := range k {
					yy := min(max(y+i-rad, 0), h-1)
					v += kv * tmp[(yy*w+x)*c+ch]
				}
				dst[(y*w+x)*c+ch] = v
			}
		}
	}
}
