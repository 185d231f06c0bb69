package transform

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/deepscope/deepscope/tensor"
)

func newRNG(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0x5eed)) }

// randImage returns a random image [h, w, c] with values in [0, 1].
func randImage(seed uint64, h, w, c int) *tensor.Tensor {
	return tensor.Uniform(newRNG(seed), 0, 1, h, w, c)
}

// maxDiff returns the largest absolute difference between a and b, or +Inf
// if their shapes differ.
func maxDiff(a, b *tensor.Tensor) float64 {
	if !tensor.SameShape(a, b) {
		return math.Inf(1)
	}
	av, bv := a.Contiguous().Values(), b.Contiguous().Values()
	var m float64
	for i := range av {
		m = math.Max(m, math.Abs(float64(av[i]-bv[i])))
	}
	return m
}

func meanStd(v []float32) (float64, float64) {
	var s, ss float64
	for _, x := range v {
		s += float64(x)
		ss += float64(x) * float64(x)
	}
	n := float64(len(v))
	return s / n, math.Sqrt(math.Max(ss/n-(s/n)*(s/n), 0))
}

// everyTransform lists one configured instance of each random transform.
func everyTransform() []Transform {
	return []Transform{
		Resize{H: 20, W: 24},
		CenterCrop{H: 20, W: 20},
		RandomResizedCrop{H: 24, W: 24, Scale: [2]float64{0.3, 1}},
		HorizontalFlip{P: 0.5},
		VerticalFlip{P: 0.5},
		Rotate90{},
		Rotate{MaxDegrees: 180},
		Rotate{MaxDegrees: 30, Fill: FillBorderMean},
		ColorJitter{Brightness: 0.3, Contrast: 0.3, Saturation: 0.3, Hue: 0.1},
		GaussianBlur{Sigma: [2]float64{0.1, 2}},
		GaussianNoise{Std: 0.05},
		HEDJitter{Theta: 0.05},
		RandomApply(0.5, HEDJitter{Theta: 0.2}),
		Normalize{Mean: []float32{0.5, 0.4, 0.3}, Std: []float32{0.2, 0.2, 0.2}},
	}
}

func TestSameSeedSameOutput(t *testing.T) {
	img := randImage(1, 32, 28, 3)
	orig := img.Clone()
	for _, tr := range everyTransform() {
		t.Run(tr.String(), func(t *testing.T) {
			a := tr.Apply(img, newRNG(7))
			b := tr.Apply(img, newRNG(7))
			if d := maxDiff(a, b); d != 0 {
				t.Errorf("two runs from the same seed differ by %g", d)
			}
			if d := maxDiff(img, orig); d != 0 {
				t.Errorf("Apply changed its input (max change %g)", d)
			}
			if a.Dims() != 3 || a.Shape[2] != 3 {
				t.Errorf("output shape %v", a.Shape)
			}
		})
	}
}

func TestComposeDeterministic(t *testing.T) {
	p := Compose(everyTransform()[2:13]...)
	img := randImage(2, 40, 40, 3)
	a, b := p.Apply(img, newRNG(3)), p.Apply(img, newRNG(3))
	if maxDiff(a, b) != 0 {
		t.Fatal("pipeline differs between runs with one seed")
	}
	c := p.Apply(img, newRNG(4))
	if maxDiff(a, c) == 0 {
		t.Fatal("pipeline gives the same output for different seeds")
	}
}

func TestRandomApplyProbability(t *testing.T) {
	rng := newRNG(5)
	img := randImage(3, 4, 4, 3)
	tr := RandomApply(0.3, HorizontalFlip{P: 1})
	n := 0
	const trials = 4000
	for range trials {
		if tr.Apply(img, rng) != img {
			n++
		}
	}
	if f := float64(n) / trials; math.Abs(f-0.3) > 0.03 {
		t.Fatalf("applied in %.3f of trials, want 0.3", f)
	}
}

func TestStrings(t *testing.T) {
	for _, tr := range everyTransform() {
		if tr.String() == "" {
			t.Errorf("%T has an empty String", tr)
		}
	}
}
