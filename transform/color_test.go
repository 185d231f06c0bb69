package transform

import (
	"math"
	"testing"

	"github.com/deepscope/deepscope/tensor"
)

func TestColorJitterZeroIsIdentity(t *testing.T) {
	for _, c := range []int{1, 3} {
		img := randImage(30, 8, 8, c)
		out := ColorJitter{}.Apply(img, newRNG(1))
		if d := maxDiff(out, img); d != 0 {
			t.Errorf("zero-strength jitter (c=%d) changed the image by %g", c, d)
		}
	}
}

func TestColorJitterEachProperty(t *testing.T) {
	img := randImage(31, 16, 16, 3)
	// Scale values down so brightness can grow without clamping.
	for i := range img.Data {
		img.Data[i] = 0.2 + 0.5*img.Data[i]
	}
	m0, s0 := meanStd(img.Values())
	tests := []struct {
		name string
		j    ColorJitter
		ok   func(out *tensor.Tensor) bool
	}{
		{"brightness", ColorJitter{Brightness: 0.5}, func(o *tensor.Tensor) bool {
			// every value scales by one common factor
			f := float64(o.Data[0] / img.Data[0])
			for i := range o.Data {
				if math.Abs(float64(o.Data[i])-f*float64(img.Data[i])) > 1e-5 {
					return false
				}
			}
			return math.Abs(f-1) > 1e-3 && f >= 0.5 && f <= 1.5
		}},
		{"contrast", ColorJitter{Contrast: 0.5}, func(o *tensor.Tensor) bool {
			m, s := meanStd(o.Values())
			return math.Abs(m-m0) < 0.02 && math.Abs(s/s0-1) > 1e-3
		}},
		{"saturation", ColorJitter{Saturation: 0.9}, func(o *tensor.Tensor) bool {
			// grey level per pixel unchanged
			for i := 0; i < len(o.Data); i += 3 {
				a := grey(o.Data[i], o.Data[i+1], o.Data[i+2])
				b := grey(img.Data[i], img.Data[i+1], img.Data[i+2])
				if math.Abs(float64(a-b)) > 1e-4 {
					return false
				}
			}
			return maxDiff(o, img) > 1e-3
		}},
		{"hue", ColorJitter{Hue: 0.2}, func(o *tensor.Tensor) bool {
			// HSV value and saturation unchanged
			for i := 0; i < len(o.Data); i += 3 {
				_, s1, v1 := rgbToHSV(o.Data[i], o.Data[i+1], o.Data[i+2])
				_, s2, v2 := rgbToHSV(img.Data[i], img.Data[i+1], img.Data[i+2])
				if math.Abs(float64(s1-s2)) > 1e-4 || math.Abs(float64(v1-v2)) > 1e-5 {
					return false
				}
			}
			return maxDiff(o, img) > 1e-3
		}},
	}
	for _, tc := range tests {
		for seed := range uint64(5) {
			if out := tc.j.Apply(img, newRNG(seed)); !tc.ok(out) {
				t.Errorf("%s (seed %d): property violated", tc.name, seed)
			}
		}
	}
}

func TestHSVRoundTrip(t *testing.T) {
	rng := newRNG(32)
	for range 1000 {
		r, g, b := rng.Float32(), rng.Float32(), rng.Float32()
		h, s, v := rgbToHSV(r, g, b)
		r2, g2, b2 := hsvToRGB(h, s, v)
		if math.Abs(float64(r-r2)) > 1e-6 || math.Abs(float64(g-g2)) > 1e-6 || math.Abs(float64(b-b2)) > 1e-6 {
			t.Fatalf("HSV round trip of (%g,%g,%g) gave (%g,%g,%g)", r, g, b, r2, g2, b2)
		}
	}
}

func TestBlur(t *testing.T) {
	c := tensor.Full(0.6, 10, 12, 3)
	if d := maxDiff(Blur(c, 1.5), c); d > 1e-6 {
		t.Errorf("blurring a constant image changed it by %g", d)
	}
	img := randImage(33, 20, 20, 3)
	if Blur(img, 0) != img {
		t.Error("Blur with sigma 0 should return its input")
	}
	_, s0 := meanStd(img.Values())
	m1, s1 := meanStd(Blur(img, 2).Values())
	if s1 > s0/3 {
		t.Errorf("blur of white noise kept std %.3f of %.3f", s1, s0)
	}
	if m0, _ := meanStd(img.Values()); math.Abs(m0-m1) > 0.01 {
		t.Errorf("blur moved the mean from %.4f to %.4f", m0, m1)
	}
	// An impulse spreads symmetrically and keeps its mass.
	imp := tensor.New(15, 15, 1)
	imp.Set(1, 7, 7, 0)
	b := Blur(imp, 1)
	var sum float64
	for _, v := range b.Values() {
		sum += float64(v)
	}
	if math.Abs(sum-1) > 1e-5 || b.At(7, 6, 0) != b.At(7, 8, 0) || b.At(6, 7, 0) != b.At(7, 6, 0) {
		t.Errorf("blurred impulse: sum %g, neighbours %g %g %g", sum, b.At(7, 6, 0), b.At(7, 8, 0), b.At(6, 7, 0))
	}
}

func TestGaussianNoise(t *testing.T) {
	img := tensor.Full(0.5, 64, 64, 3)
	out := GaussianNoise{Std: 0.05}.Apply(img, newRNG(34))
	m, s := meanStd(out.Values())
	if math.Abs(m-0.5) > 0.005 || math.Abs(s-0.05) > 0.005 {
		t.Errorf("noise mean %.4f std %.4f, want 0.5 and 0.05", m, s)
	}
}
