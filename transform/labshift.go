package transform

import (
	"fmt"
	"math/rand/v2"

	"github.com/deepscope/deepscope/tensor"
)

// The transforms of this file are fixed, deterministic changes of the kind
// that separate one laboratory's images from another's: magnification,
// stain and illumination. They simulate a shifted test set from one
// site's images, to measure how a model copes before it meets the real
// thing; they are not augmentations (rng is not used).

// Rescale changes the magnification while keeping the frame: Factor 2
// shows the centre of the image twice as large (a cell that filled a
// third of the frame fills two thirds), Factor 0.5 shows it half as large,
// with the image's background colour (Background) around it.
type Rescale struct{ Factor float64 }

// Apply implements Transform.
func (r Rescale) Apply(img *tensor.Tensor, _ *rand.Rand) *tensor.Tensor {
	if !(r.Factor > 0) {
		panic(fmt.Sprintf("transform: Rescale: factor %g, want > 0", r.Factor))
	}
	h, w, v := rgb("Rescale", img)
	if r.Factor == 1 {
		return img
	}
	wh, ww := float64(h)/r.Factor, float64(w)/r.Factor
	y0, x0 := (float64(h)-wh)/2, (float64(w)-ww)/2
	src, pad := img, 0
	if r.Factor < 1 {
		pad = int(-min(y0, x0)) + 1
		src = padded(v, h, w, pad, Background(img))
	}
	return resample(src, y0+float64(pad), x0+float64(pad), wh, ww, h, w, CatmullRom)
}

func (r Rescale) String() string { return fmt.Sprintf("Rescale(%g)", r.Factor) }

// Restain changes the staining: each pixel's haematoxylin, eosin and DAB
// amounts s (see ToHED) become Alpha·s + Beta, as a stronger or weaker
// batch of stain, or a longer staining time, would leave them. It is
// HEDJitter with fixed factors.
type Restain struct {
	Alpha [3]float64 // factor per stain; 0 means 1
	Beta  [3]float64 // added amount per stain
}

// Apply implements Transform.
func (s Restain) Apply(img *tensor.Tensor, _ *rand.Rand) *tensor.Tensor {
	hed := ToHED(img)
	v := hed.Data
	for i := 0; i < len(v); i += 3 {
		for k := range 3 {
			a := s.Alpha[k]
			if a == 0 {
				a = 1
			}
			v[i+k] = float32(a*float64(v[i+k]) + s.Beta[k])
		}
	}
	return FromHED(hed)
}

func (s Restain) String() string { return fmt.Sprintf("Restain(alpha=%v, beta=%v)", s.Alpha, s.Beta) }

// Relight changes the illumination: every channel is multiplied by the
// new light over the image's background colour (Background), as a lamp
// or camera white balance of another colour would (light through a
// stained smear is the light times the smear's transmittance), then
// clipped to [0, 1].
type Relight struct{ Light [3]float32 }

// Apply implements Transform.
func (l Relight) Apply(img *tensor.Tensor, _ *rand.Rand) *tensor.Tensor {
	h, w, v := rgb("Relight", img)
	bg := Background(img)
	var f [3]float32
	for k := range 3 {
		f[k] = l.Light[k] / max(bg[k], 1.0/255)
	}
	out := tensor.New(h, w, 3)
	for i := 0; i < len(v); i += 3 {
		for k := range 3 {
			out.Data[i+k] = clamp01(v[i+k] * f[k])
		}
	}
	return out
}

func (l Relight) String() string { return fmt.Sprintf("Relight(%v)", l.Light) }
