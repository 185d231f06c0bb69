package synth

import (
	"math"
	"math/rand/v2"
)

// Style is how a smear was stained and photographed: it sets the colours
// of the image, not its content.
type Style struct {
	Light [3]float32 // illumination, the colour of empty background (RGB)
	// Optical densities (R, G, B) of one unit of each stain component of a
	// Romanowsky stain.
	Azure [3]float32 // azure/methylene blue bound to DNA: nuclei, purple
	Eosin [3]float32 // eosin: red cells and eosinophil granules, pink to orange
	Blue  [3]float32 // methylene blue bound to RNA: basophilic cytoplasm, sky blue
	// Strength scales every density (staining time, smear thickness).
	Strength float64
	// Blur is the defocus, a Gaussian's sigma in pixels at 64 px.
	Blur float64
	// Noise is the standard deviation of the sensor noise added to RGB.
	Noise float64
	// Variability in [0, 1] is how far cells stray from their class's type:
	// at 1 the ranges of size, shape and colour widen to twice their span
	// and 30% of cells borrow a feature of a neighbouring class.
	Variability float64
}

// DefaultStyle is the reference look: the peach background and purple
// nuclei of a May-Grünwald-Giemsa smear.
func DefaultStyle() Style {
	return Style{
		Light:    [3]float32{0.99, 0.91, 0.81},
		Azure:    [3]float32{0.95, 1.45, 0.55},
		Eosin:    [3]float32{0.12, 0.55, 0.33},
		Blue:     [3]float32{0.38, 0.22, 0.08},
		Strength: 1,
		Blur:     0.4,
		Noise:    0.012,
	}
}

// SiteStyle returns the look of acquisition site i (0-based). Site 0 is
// DefaultStyle; site 1 a bluish, weaker batch of stain on a cooler lamp,
// through an older scanner that is out of focus and noisy (its images are
// harder to classify, a site effect for an audit to find); site 2 a pale, overexposed, noisier scanner; sites beyond
// are random departures from the default, fixed by their index.
func SiteStyle(i int) Style {
	s := DefaultStyle()
	switch i {
	case 0:
	case 1:
		s.Light = [3]float32{0.91, 0.89, 0.97}
		s.Azure = [3]float32{1.10, 1.40, 0.42}
		s.Eosin = [3]float32{0.18, 0.50, 0.22}
		s.Strength = 0.75
		s.Blur = 1.4
		s.Noise = 0.04
	case 2:
		s.Light = [3]float32{1.0, 0.97, 0.87}
		s.Azure = [3]float32{0.85, 1.50, 0.70}
		s.Eosin = [3]float32{0.08, 0.58, 0.42}
		s.Strength = 0.78
		s.Blur = 0.6
		s.Noise = 0.03
	default:
		rng := rand.New(rand.NewPCG(uint64(i), 0x517e))
		s = s.jittered(rng, 1.5)
	}
	return s
}

// jittered returns a per-image variation of s; amount 1 is typical
// slide-to-slide variation within a site.
func (s Style) jittered(rng *rand.Rand, amount float64) Style {
	j := func(v [3]float32, sd float64) [3]float32 {
		g := math.Exp(sd * amount * rng.NormFloat64()) // overall
		for k := range v {
			v[k] *= float32(g * math.Exp(0.5*sd*amount*rng.NormFloat64()))
		}
		return v
	}
	s.Azure = j(s.Azure, 0.10)
	s.Eosin = j(s.Eosin, 0.12)
	s.Blue = j(s.Blue, 0.12)
	for k := range s.Light {
		s.Light[k] = min(1, s.Light[k]*float32(1+0.025*amount*rng.NormFloat64()))
	}
	s.Strength *= math.Exp(0.10 * amount * rng.NormFloat64())
	s.Blur = max(0, s.Blur+0.35*amount*rng.Float64()-0.1*amount)
	s.Noise *= 0.7 + 0.6*rng.Float64()
	return s
}
