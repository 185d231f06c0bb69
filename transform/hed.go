package transform

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/deepscope/deepscope/tensor"
)

// rgbFromHED holds, as rows, the optical densities in R, G, B of unit
// amounts of haematoxylin, eosin and DAB, from Ruifrok and Johnston,
// "Quantification of histochemical staining by color deconvolution" (2001),
// as scikit-image uses them.
var rgbFromHED = mat3{
	{0.65, 0.70, 0.29},
	{0.07, 0.99, 0.11},
	{0.27, 0.57, 0.78},
}

var hedFromRGB = rgbFromHED.inverse()

// odFloor keeps -ln(x) finite for black pixels.
const odFloor = 1e-6

// ToHED returns the stain amounts [H, W, 3] (haematoxylin, eosin, DAB) of an
// RGB image by colour deconvolution: optical density -ln(max(x, 1e-6)) per
// channel, times the inverse of the Ruifrok–Johnston stain matrix. The
// amounts are natural-log optical densities and are not clipped at zero,
// so FromHED(ToHED(x)) returns x up to rounding.
func ToHED(img *tensor.Tensor) *tensor.Tensor {
	h, w, v := rgb("ToHED", img)
	out := tensor.New(h, w, 3)
	for i := 0; i < len(v); i += 3 {
		od := vec3{od(v[i]), od(v[i+1]), od(v[i+2])}
		s := hedFromRGB.leftMul(od)
		out.Data[i], out.Data[i+1], out.Data[i+2] = float32(s[0]), float32(s[1]), float32(s[2])
	}
	return out
}

// FromHED is the inverse of ToHED: RGB = exp(-stains x rgbFromHED), clamped
// to [0, 1].
func FromHED(stains *tensor.Tensor) *tensor.Tensor {
	h, w, v := rgb("FromHED", stains)
	out := tensor.New(h, w, 3)
	for i := 0; i < len(v); i += 3 {
		od := rgbFromHED.leftMul(vec3{float64(v[i]), float64(v[i+1]), float64(v[i+2])})
		for k := range 3 {
			out.Data[i+k] = clamp01(float32(math.Exp(-od[k])))
		}
	}
	return out
}

func od(x float32) float64 { return -math.Log(math.Max(float64(x), odFloor)) }

func odFast(x float32) float32 { return -fastLn(max(x, odFloor)) }

// HEDJitter perturbs the stains independently, after Tellez et al.
// (2018): the image is deconvolved into haematoxylin, eosin and DAB amounts
// s (see ToHED), each becomes alpha*s + beta with alpha uniform in
// [1-Theta, 1+Theta] and beta uniform in [-Theta, Theta], and the result is
// recombined to RGB. Theta = 0.05 is the usual "light" setting and 0.2 the
// "strong" one. The shift beta applies to every pixel, background included.
type HEDJitter struct{ Theta float64 }

// Apply implements Transform; it draws six numbers from rng.
func (j HEDJitter) Apply(img *tensor.Tensor, rng *rand.Rand) *tensor.Tensor {
	h, w, v := rgb("HEDJitter", img)
	var alpha, beta vec3
	for k := range 3 {
		alpha[k] = uniform(rng, 1-j.Theta, 1+j.Theta)
		beta[k] = uniform(rng, -j.Theta, j.Theta)
	}
	// Fold deconvolution, jitter and recombination into one affine map of
	// optical density: od' = (od x D) * alpha + beta, then x M.
	var m mat3
	for r := range 3 {
		for c := range 3 {
			var s float64
			for k := range 3 {
				s += hedFromRGB[r][k] * alpha[k] * rgbFromHED[k][c]
			}
			m[r][c] = s
		}
	}
	sh := rgbFromHED.leftMul(beta)
	var a [3][3]float32
	for r := range 3 {
		for c := range 3 {
			a[r][c] = float32(m[r][c])
		}
	}
	s0, s1, s2 := float32(sh[0]), float32(sh[1]), float32(sh[2])
	out := tensor.New(h, w, 3)
	o := out.Data
	for i := 0; i+2 < len(v); i += 3 {
		d0, d1, d2 := odFast(v[i]), odFast(v[i+1]), odFast(v[i+2])
		o[i] = clamp01(fastExp(-(d0*a[0][0] + d1*a[1][0] + d2*a[2][0] + s0)))
		o[i+1] = clamp01(fastExp(-(d0*a[0][1] + d1*a[1][1] + d2*a[2][1] + s1)))
		o[i+2] = clamp01(fastExp(-(d0*a[0][2] + d1*a[1][2] + d2*a[2][2] + s2)))
	}
	return out
}

func (j HEDJitter) String() string { return fmt.Sprintf("HEDJitter(theta=%g)", j.Theta) }
