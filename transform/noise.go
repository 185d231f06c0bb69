package transform

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/deepscope/deepscope/tensor"
)

// GaussianBlur smooths the image with a Gaussian of standard deviation
// drawn uniformly from Sigma (pixels), truncated at three sigma, mirroring
// at the edges. Sigma[1] = 0 means Sigma[0] exactly.
type GaussianBlur struct {
	Sigma [2]float64
}

// Apply implements Transform; it draws one number from rng.
func (g GaussianBlur) Apply(img *tensor.Tensor, rng *rand.Rand) *tensor.Tensor {
	hi := g.Sigma[1]
	if hi == 0 {
		hi = g.Sigma[0]
	}
	return Blur(img, uniform(rng, g.Sigma[0], hi))
}

func (g GaussianBlur) String() string {
	return fmt.Sprintf("GaussianBlur(sigma=%g-%g)", g.Sigma[0], g.Sigma[1])
}

// Blur returns img smoothed by a Gaussian of standard deviation sigma
// pixels (separable, truncated at 3 sigma, mirrored edges). sigma <= 0
// returns img.
func Blur(img *tensor.Tensor, sigma float64) *tensor.Tensor {
	h, w, c, v := dims("Blur", img)
	if sigma <= 0 {
		return img
	}
	r := int(math.Ceil(3 * sigma))
	k := make([]float32, 2*r+1)
	var sum float64
	for i := -r; i <= r; i++ {
		e := math.Exp(-float64(i*i) / (2 * sigma * sigma))
		k[i+r] = float32(e)
		sum += e
	}
	for i := range k {
		k[i] /= float32(sum)
	}
	tmp := make([]float32, len(v))
	for y := range h {
		for x := range w {
			o := tmp[(y*w+x)*c : (y*w+x+1)*c]
			for i, kw := range k {
				sx := reflect(x+i-r, w)
				in := v[(y*w+sx)*c:]
				for ch := range c {
					o[ch] += kw * in[ch]
				}
			}
		}
	}
	out := tensor.New(h, w, c)
	for y := range h {
		o := out.Data[y*w*c : (y+1)*w*c]
		for i, kw := range k {
			sy := reflect(y+i-r, h)
			in := tmp[sy*w*c : (sy+1)*w*c]
			for j, x := range in {
				o[j] += kw * x
			}
		}
	}
	return out
}

// GaussianNoise adds independent normal noise of standard deviation Std to
// every value and clamps to [0, 1].
type GaussianNoise struct{ Std float64 }

// Apply implements Transform; it draws one number per value from rng.
func (g GaussianNoise) Apply(img *tensor.Tensor, rng *rand.Rand) *tensor.Tensor {
	h, w, c, v := dims("GaussianNoise", img)
	out := tensor.New(h, w, c)
	s := float32(g.Std)
	for i, x := range v {
		out.Data[i] = clamp01(x + s*float32(rng.NormFloat64()))
	}
	return out
}

func (g GaussianNoise) String() string { return fmt.Sprintf("GaussianNoise(std=%g)", g.Std) }
