package transform

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/deepscope/deepscope/tensor"
)

// ColorJitter changes brightness, contrast, saturation and hue by random
// amounts, in a random order, as torchvision.transforms.ColorJitter:
// brightness multiplies by a factor in [max(0, 1-B), 1+B]; contrast blends
// with the mean grey level by a factor in [max(0, 1-C), 1+C]; saturation
// blends with the grey image by a factor in [max(0, 1-S), 1+S]; hue turns
// the HSV hue by a fraction of a full turn in [-Hue, Hue] (Hue <= 0.5).
// A zero strength leaves that property exactly as it is; saturation and hue
// do nothing to grey images.
type ColorJitter struct {
	Brightness, Contrast, Saturation, Hue float64
}

// Apply implements Transform. It draws a fixed amount from rng (the order
// and all four factors) whatever the strengths.
func (j ColorJitter) Apply(img *tensor.Tensor, rng *rand.Rand) *tensor.Tensor {
	h, w, c, v := dims("ColorJitter", img)
	order := rng.Perm(4)
	b := uniform(rng, math.Max(0, 1-j.Brightness), 1+j.Brightness)
	ct := uniform(rng, math.Max(0, 1-j.Contrast), 1+j.Contrast)
	s := uniform(rng, math.Max(0, 1-j.Saturation), 1+j.Saturation)
	hue := uniform(rng, -j.Hue, j.Hue)
	var out []float32
	own := func() []float32 {
		if out == nil {
			out = append([]float32(nil), v...)
		}
		return out
	}
	for _, op := range order {
		switch op {
		case 0:
			if j.Brightness != 0 {
				scaleValues(own(), float32(b))
			}
		case 1:
			if j.Contrast != 0 {
				o := own()
				blend(o, float32(meanGrey(o, c)), float32(ct))
			}
		case 2:
			if j.Saturation != 0 && c == 3 {
				saturate(own(), float32(s))
			}
		case 3:
			if j.Hue != 0 && c == 3 {
				shiftHue(own(), hue)
			}
		}
	}
	if out == nil {
		return img
	}
	return tensor.FromSlice(out, h, w, c)
}

func (j ColorJitter) String() string {
	return fmt.Sprintf("ColorJitter(brightness=%g, contrast=%g, saturation=%g, hue=%g)", j.Brightness, j.Contrast, j.Saturation, j.Hue)
}

func scaleValues(v []float32, f float32) {
	for i, x := range v {
		v[i] = clamp01(x * f)
	}
}

// blend sets v to f*v + (1-f)*m, clamped.
func blend(v []float32, m, f float32) {
	for i, x := range v {
		v[i] = clamp01(f*x + (1-f)*m)
	}
}

// grey is the ITU-R 601 luma that torchvision's rgb_to_grayscale uses.
func grey(r, g, b float32) float32 { return 0.299*r + 0.587*g + 0.114*b }

func meanGrey(v []float32, c int) float64 {
	var s float64
	if c != 3 {
		for _, x := range v {
			s += float64(x)
		}
		return s / float64(len(v))
	}
	for i := 0; i < len(v); i += 3 {
		s += float64(grey(v[i], v[i+1], v[i+2]))
	}
	return s / float64(len(v)/3)
}

func saturate(v []float32, f float32) {
	for i := 0; i < len(v); i += 3 {
		g := grey(v[i], v[i+1], v[i+2])
		for k := range 3 {
			v[i+k] = clamp01(f*v[i+k] + (1-f)*g)
		}
	}
}

// shiftHue turns the hue of every pixel by d (a fraction of a turn).
func shiftHue(v []float32, d float64) {
	df := float32(d)
	for i := 0; i+2 < len(v); i += 3 {
		h, s, val := rgbToHSV(v[i], v[i+1], v[i+2])
		h += df
		if h < 0 {
			h++
		} else if h >= 1 {
			h--
		}
		v[i], v[i+1], v[i+2] = hsvToRGB(h, s, val)
	}
}

// rgbToHSV returns hue in [0, 1), saturation and value.
func rgbToHSV(r, g, b float32) (h, s, v float32) {
	mx := max(r, g, b)
	mn := min(r, g, b)
	d := mx - mn
	v = mx
	if mx > 0 {
		s = d / mx
	}
	if d == 0 {
		return 0, s, v
	}
	switch mx {
	case r:
		h = (g - b) / d
	case g:
		h = 2 + (b-r)/d
	default:
		h = 4 + (r-g)/d
	}
	h /= 6
	if h < 0 {
		h++
	}
	return h, s, v
}

func hsvToRGB(h, s, v float32) (r, g, b float32) {
	h6 := h * 6
	i := int(h6)
	f := h6 - float32(i)
	p, q, t := v*(1-s), v*(1-s*f), v*(1-s*(1-f))
	switch i % 6 {
	case 0:
		r, g, b = v, t, p
	case 1:
		r, g, b = q, v, p
	case 2:
		r, g, b = p, v, t
	case 3:
		r, g, b = p, q, v
	case 4:
		r, g, b = t, p, v
	default:
		r, g, b = v, p, q
	}
	return clamp01(r), clamp01(g), clamp01(b)
}
