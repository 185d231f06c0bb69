package transform

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/deepscope/deepscope/tensor"
)

// Reinhard normalises colour by matching each channel's mean and standard
// deviation in CIE L*a*b* (sRGB, D65) to a target's, after Reinhard et al.,
// "Color transfer between images" (2001), as stain normalisation commonly
// applies it. Mean and Std hold the fitted target (L*, a*, b*) and can be
// stored and set directly. It is deterministic preprocessing; rng is not
// used.
type Reinhard struct {
	Mean, Std [3]float64
}

// Fit sets the target to the pooled L*a*b* statistics of refs. It fails on
// non-RGB images and on a uniform target (an all-white field has no stain
// to match).
func (r *Reinhard) Fit(refs []*tensor.Tensor) error {
	if len(refs) == 0 {
		return errors.New("transform: Reinhard.Fit: no reference images")
	}
	var s, ss [3]float64
	n := 0
	for i, img := range refs {
		if img.Dims() != 3 || img.Shape[2] != 3 {
			return fmt.Errorf("transform: Reinhard.Fit: reference %d has shape %v, want [H, W, 3]", i, img.Shape)
		}
		v := img.Contiguous().Values()
		for p := 0; p < len(v); p += 3 {
			lab := rgbToLab(v[p], v[p+1], v[p+2])
			for k := range 3 {
				s[k] += lab[k]
				ss[k] += lab[k] * lab[k]
			}
		}
		n += len(v) / 3
	}
	if n == 0 {
		return errors.New("transform: Reinhard.Fit: references have no pixels")
	}
	for k := range 3 {
		r.Mean[k] = s[k] / float64(n)
		r.Std[k] = math.Sqrt(math.Max(ss[k]/float64(n)-r.Mean[k]*r.Mean[k], 0))
	}
	if r.Std[0] < 0.5 && r.Std[1] < 0.5 && r.Std[2] < 0.5 {
		return fmt.Errorf("transform: Reinhard.Fit: references are uniform (L*a*b* std %.2g, %.2g, %.2g; mean L* %.1f): no stain to match", r.Std[0], r.Std[1], r.Std[2], r.Mean[0])
	}
	return nil
}

// Fitted reports whether the target has been set.
func (r *Reinhard) Fitted() bool { return r.Std != [3]float64{} }

// Apply implements Transform. A channel that is constant in img is shifted
// to the target mean. It panics if the target has not been fitted or set.
func (r *Reinhard) Apply(img *tensor.Tensor, _ *rand.Rand) *tensor.Tensor {
	if !r.Fitted() {
		panic("transform: Reinhard used before Fit")
	}
	h, w, v := rgb("Reinhard", img)
	lab := make([]vec3, len(v)/3)
	var s, ss vec3
	for i := range lab {
		lab[i] = rgbToLab(v[3*i], v[3*i+1], v[3*i+2])
		for k := range 3 {
			s[k] += lab[i][k]
			ss[k] += lab[i][k] * lab[i][k]
		}
	}
	n := float64(len(lab))
	var gain, mean vec3
	for k := range 3 {
		mean[k] = s[k] / n
		sd := math.Sqrt(math.Max(ss[k]/n-mean[k]*mean[k], 0))
		gain[k] = 1
		if sd > 1e-6 {
			gain[k] = r.Std[k] / sd
		}
	}
	out := tensor.New(h, w, 3)
	for i, p := range lab {
		for k := range 3 {
			p[k] = (p[k]-mean[k])*gain[k] + r.Mean[k]
		}
		out.Data[3*i], out.Data[3*i+1], out.Data[3*i+2] = labToRGB(p)
	}
	return out
}

func (r *Reinhard) String() string {
	return fmt.Sprintf("Reinhard(mean=%.2f, std=%.2f)", r.Mean, r.Std)
}

// LabStats returns the per-channel mean and standard deviation of an RGB
// image in CIE L*a*b*.
func LabStats(img *tensor.Tensor) (mean, std [3]float64) {
	_, _, v := rgb("LabStats", img)
	var s, ss [3]float64
	for p := 0; p < len(v); p += 3 {
		lab := rgbToLab(v[p], v[p+1], v[p+2])
		for k := range 3 {
			s[k] += lab[k]
			ss[k] += lab[k] * lab[k]
		}
	}
	n := float64(len(v) / 3)
	for k := range 3 {
		mean[k] = s[k] / n
		std[k] = math.Sqrt(math.Max(ss[k]/n-mean[k]*mean[k], 0))
	}
	return mean, std
}

// D65 white point and the sRGB (linear) to XYZ matrix.
var (
	whiteD65   = vec3{0.95047, 1, 1.08883}
	xyzFromRGB = mat3{
		{0.4124564, 0.3575761, 0.1804375},
		{0.2126729, 0.7151522, 0.0721750},
		{0.0193339, 0.1191920, 0.9503041},
	}
	rgbFromXYZ = xyzFromRGB.inverse()
)

func srgbToLinear(x float64) float64 {
	if x <= 0.04045 {
		return x / 12.92
	}
	return math.Pow((x+0.055)/1.055, 2.4)
}

func linearToSRGB(x float64) float64 {
	if x <= 0.0031308 {
		return 12.92 * x
	}
	return 1.055*math.Pow(x, 1/2.4) - 0.055
}

const labEps = 216.0 / 24389 // (6/29)^3

func labF(t float64) float64 {
	if t > labEps {
		return math.Cbrt(t)
	}
	return t/(3*(6.0/29)*(6.0/29)) + 4.0/29
}

func labFInv(t float64) float64 {
	if t > 6.0/29 {
		return t * t * t
	}
	return 3 * (6.0 / 29) * (6.0 / 29) * (t - 4.0/29)
}

func rgbToLab(r, g, b float32) vec3 {
	lin := vec3{srgbToLinear(float64(r)), srgbToLinear(float64(g)), srgbToLinear(float64(b))}
	var xyz vec3
	for k := range 3 {
		xyz[k] = vec3(xyzFromRGB[k]).dot(lin) / whiteD65[k]
	}
	fx, fy, fz := labF(xyz[0]), labF(xyz[1]), labF(xyz[2])
	return vec3{116*fy - 16, 500 * (fx - fy), 200 * (fy - fz)}
}

func labToRGB(lab vec3) (r, g, b float32) {
	fy := (lab[0] + 16) / 116
	fx := fy + lab[1]/500
	fz := fy - lab[2]/200
	xyz := vec3{labFInv(fx) * whiteD65[0], labFInv(fy) * whiteD65[1], labFInv(fz) * whiteD65[2]}
	var o [3]float32
	for k := range 3 {
		o[k] = clamp01(float32(linearToSRGB(math.Max(vec3(rgbFromXYZ[k]).dot(xyz), 0))))
	}
	return o[0], o[1], o[2]
}
