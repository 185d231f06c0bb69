package transform

import (
	"math"
	"strings"
	"testing"

	"github.com/deepscope/deepscope/tensor"
)

func TestHEDRoundTrip(t *testing.T) {
	img := randImage(40, 16, 16, 3)
	for i := range img.Data { // avoid the 1e-6 floor
		img.Data[i] = 0.02 + 0.98*img.Data[i]
	}
	if d := maxDiff(FromHED(ToHED(img)), img); d > 1e-5 {
		t.Errorf("FromHED(ToHED(x)) differs from x by %g", d)
	}
	if d := maxDiff(HEDJitter{}.Apply(img, newRNG(1)), img); d > 1e-5 {
		t.Errorf("HEDJitter with theta 0 differs from identity by %g", d)
	}
	// Pure haematoxylin deconvolves to (1, 0, 0).
	h := tensor.New(1, 1, 3)
	for k := range 3 {
		h.Data[k] = float32(math.Exp(-rgbFromHED[0][k]))
	}
	s := ToHED(h).Values()
	if math.Abs(float64(s[0])-1) > 1e-5 || math.Abs(float64(s[1])) > 1e-5 || math.Abs(float64(s[2])) > 1e-5 {
		t.Errorf("pure haematoxylin deconvolves to %v, want [1 0 0]", s)
	}
}

func TestHEDJitterChangesStainsOnly(t *testing.T) {
	// A shift-free jitter (scaling only) keeps white pixels white.
	img := tensor.Full(1, 4, 4, 3)
	out := HEDJitter{Theta: 0.2}.Apply(img, newRNG(2))
	if maxDiff(out, img) == 0 {
		t.Error("HEDJitter with theta 0.2 left white unchanged: the shift is missing")
	}
	m, _ := meanStd(out.Values())
	if m < 0.5 {
		t.Errorf("HEDJitter turned white into mean %.3f", m)
	}
}

func TestSymEigen(t *testing.T) {
	a := mat3{{4, 1, 0.5}, {1, 3, 0.2}, {0.5, 0.2, 1}}
	vals, vecs := symEigen(a)
	if !(vals[0] >= vals[1] && vals[1] >= vals[2]) {
		t.Fatalf("eigenvalues not descending: %v", vals)
	}
	for i := range 3 {
		av := a.leftMul(vecs[i]) // a is symmetric
		for k := range 3 {
			if math.Abs(av[k]-vals[i]*vecs[i][k]) > 1e-9 {
				t.Fatalf("A v%d = %v, λ v = %v", i, av, vecs[i].scale(vals[i]))
			}
		}
		if math.Abs(vecs[i].norm()-1) > 1e-9 {
			t.Fatalf("eigenvector %d has norm %g", i, vecs[i].norm())
		}
	}
	inv := a.inverse()
	for r := range 3 {
		for c := range 3 {
			var s float64
			for k := range 3 {
				s += a[r][k] * inv[k][c]
			}
			want := 0.0
			if r == c {
				want = 1
			}
			if math.Abs(s-want) > 1e-12 {
				t.Fatalf("A A⁻¹ [%d][%d] = %g", r, c, s)
			}
		}
	}
}

// stained renders concentrations (two per pixel) with stain vectors he:
// x = io * exp(-(c0*he0 + c1*he1)).
func stained(conc []float64, he [2]vec3, io float64, h, w int) *tensor.Tensor {
	img := tensor.New(h, w, 3)
	for p := range h * w {
		for k := range 3 {
			img.Data[3*p+k] = clamp01(float32(io * math.Exp(-(conc[2*p]*he[0][k] + conc[2*p+1]*he[1][k]))))
		}
	}
	return img
}

// tissue returns a concentration field: background, haematoxylin-rich
// "nuclei", eosin-rich "cytoplasm" and mixtures.
func tissue(seed uint64, n int) []float64 {
	rng := newRNG(seed)
	c := make([]float64, 2*n)
	for p := range n {
		switch u := rng.Float64(); {
		case u < 0.3: // background
		case u < 0.55:
			c[2*p], c[2*p+1] = 0.4+1.2*rng.Float64(), 0.1*rng.Float64()
		case u < 0.85:
			c[2*p], c[2*p+1] = 0.05*rng.Float64(), 0.3+0.8*rng.Float64()
		default:
			c[2*p], c[2*p+1] = 0.6*rng.Float64(), 0.6*rng.Float64()
		}
	}
	return c
}

func unitVec(v vec3) vec3 { return v.scale(1 / v.norm()) }

func TestMacenkoRecoversTarget(t *testing.T) {
	const h, w = 48, 48
	// The target: the reference H&E vectors of Macenko's own code.
	targetHE := [2]vec3{unitVec(vec3{0.5626, 0.7201, 0.4062}), unitVec(vec3{0.2159, 0.8012, 0.5581})}
	// The source: the same kind of tissue stained with other dyes, and darker.
	sourceHE := [2]vec3{unitVec(vec3{0.65, 0.70, 0.29}), unitVec(vec3{0.30, 0.85, 0.40})}
	grey := vec3{240.0 / 255, 240.0 / 255, 240.0 / 255}
	tests := []struct {
		name          string
		auto          bool
		refLight, src vec3
	}{
		{"white light", false, grey, grey},
		{"tinted light, estimated", true, vec3{0.99, 0.91, 0.82}, vec3{0.90, 0.9, 0.97}},
	}
	for _, tc := range tests {
		ref := stainedLit(tissue(1, h*w), targetHE, tc.refLight, h, w)
		m := Macenko{AutoLight: tc.auto}
		if err := m.Fit([]*tensor.Tensor{ref}); err != nil {
			t.Fatal(err)
		}
		for s := range 2 {
			if cos := vec3(m.Stains[s]).dot(targetHE[s]); cos < 0.995 {
				t.Errorf("%s: fitted stain %d = %.3f, want %.3f (cos %.4f)", tc.name, s, m.Stains[s], targetHE[s], cos)
			}
		}
		conc := tissue(2, h*w)
		dark := make([]float64, len(conc))
		for i, c := range conc {
			dark[i] = c * 1.4
		}
		src := stainedLit(dark, sourceHE, tc.src, h, w)
		want := stainedLit(conc, targetHE, tc.refLight, h, w) // the source in the target's stain and light
		out, err := m.Normalize(src)
		if err != nil {
			t.Fatal(err)
		}
		before, after := rmse(src, want), rmse(out, want)
		t.Logf("%s: RMSE to the target-stained image: %.4f before, %.4f after", tc.name, before, after)
		if after > 0.03 || after > before/4 {
			t.Errorf("%s: RMSE to the target-stained image: %.4f before, %.4f after normalisation", tc.name, before, after)
		}
		wm, _ := LabStats(want)
		om, _ := LabStats(out)
		for k := range 3 {
			if math.Abs(wm[k]-om[k]) > 2 {
				t.Errorf("%s: Lab mean %d after normalisation %.2f, target %.2f", tc.name, k, om[k], wm[k])
			}
		}
	}
}

// stainedLit is stained under coloured light.
func stainedLit(conc []float64, he [2]vec3, light vec3, h, w int) *tensor.Tensor {
	img := stained(conc, he, 1, h, w)
	v := img.Values()
	for i := range v {
		v[i] *= float32(light[i%3])
	}
	return img
}

func rmse(a, b *tensor.Tensor) float64 {
	av, bv := a.Values(), b.Values()
	var s float64
	for i := range av {
		d := float64(av[i] - bv[i])
		s += d * d
	}
	return math.Sqrt(s / float64(len(av)))
}

func TestMacenkoErrors(t *testing.T) {
	white := tensor.Full(1, 16, 16, 3)
	grey := tensor.Full(0.5, 16, 16, 1)
	oneStain := stained(func() []float64 {
		c := make([]float64, 2*256)
		for p := range 256 {
			c[2*p] = 0.2 + float64(p%17)/10
		}
		return c
	}(), [2]vec3{unitVec(vec3{0.65, 0.70, 0.29}), unitVec(vec3{0.07, 0.99, 0.11})}, 240.0/255, 16, 16)
	tests := []struct {
		name string
		refs []*tensor.Tensor
		want string
	}{
		{"none", nil, "no reference"},
		{"white", []*tensor.Tensor{white}, "no stain"},
		{"grey", []*tensor.Tensor{grey}, "want [H, W, 3]"},
		{"one stain", []*tensor.Tensor{oneStain}, "one stain"},
	}
	for _, tc := range tests {
		var m Macenko
		err := m.Fit(tc.refs)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "transform: ") {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
	// A blank input to a fitted normaliser comes back unchanged.
	var m Macenko
	if err := m.Fit([]*tensor.Tensor{stained(tissue(3, 400), [2]vec3{unitVec(vec3{0.65, 0.70, 0.29}), unitVec(vec3{0.07, 0.99, 0.11})}, 240.0/255, 20, 20)}); err != nil {
		t.Fatal(err)
	}
	if m.Apply(white, nil) != white {
		t.Error("Apply on a blank field should return it unchanged")
	}
	if _, err := m.Normalize(white); err == nil {
		t.Error("Normalize on a blank field should say why it cannot")
	}
}

func TestReinhardRecoversTarget(t *testing.T) {
	const h, w = 40, 40
	he := [2]vec3{unitVec(vec3{0.65, 0.70, 0.29}), unitVec(vec3{0.07, 0.99, 0.11})}
	ref := stained(tissue(4, h*w), he, 240.0/255, h, w)
	var r Reinhard
	if err := r.Fit([]*tensor.Tensor{ref}); err != nil {
		t.Fatal(err)
	}
	// Re-stain another field by a colour cast and a contrast change.
	src := stained(tissue(5, h*w), he, 240.0/255, h, w)
	v := src.Values()
	for i := 0; i < len(v); i += 3 {
		v[i] = clamp01(0.85*v[i] + 0.05)
		v[i+1] = clamp01(0.7*v[i+1] + 0.1)
		v[i+2] = clamp01(0.95 * v[i+2])
	}
	out := r.Apply(src, nil)
	gm, gs := LabStats(out)
	sm, _ := LabStats(src)
	for k := range 3 {
		if math.Abs(gm[k]-r.Mean[k]) > 1.5 || math.Abs(gs[k]-r.Std[k]) > 0.1*r.Std[k]+0.5 {
			t.Errorf("Lab channel %d: mean %.2f std %.2f after, target %.2f %.2f (source mean %.2f)", k, gm[k], gs[k], r.Mean[k], r.Std[k], sm[k])
		}
	}
	if err := new(Reinhard).Fit([]*tensor.Tensor{tensor.Full(1, 8, 8, 3)}); err == nil || !strings.Contains(err.Error(), "uniform") {
		t.Errorf("fitting an all-white image: error %v, want one saying it is uniform", err)
	}
}

func TestLabRoundTrip(t *testing.T) {
	rng := newRNG(41)
	for range 1000 {
		r, g, b := rng.Float32(), rng.Float32(), rng.Float32()
		r2, g2, b2 := labToRGB(rgbToLab(r, g, b))
		if math.Abs(float64(r-r2)) > 1e-5 || math.Abs(float64(g-g2)) > 1e-5 || math.Abs(float64(b-b2)) > 1e-5 {
			t.Fatalf("Lab round trip of (%g,%g,%g) gave (%g,%g,%g)", r, g, b, r2, g2, b2)
		}
	}
	if lab := rgbToLab(1, 1, 1); math.Abs(lab[0]-100) > 1e-3 || math.Abs(lab[1]) > 1e-3 || math.Abs(lab[2]) > 1e-3 {
		t.Errorf("white in Lab = %v, want (100, 0, 0)", lab)
	}
}

func TestFastMath(t *testing.T) {
	rng := newRNG(42)
	for range 10000 {
		x := float32(math.Exp(-14 * rng.Float64()))
		if got, want := float64(fastLn(x)), math.Log(float64(x)); math.Abs(got-want) > 2e-6*math.Max(1, math.Abs(want)) {
			t.Fatalf("fastLn(%g) = %g, want %g", x, got, want)
		}
		y := float32(-20 + 22*rng.Float64())
		if got, want := float64(fastExp(y)), math.Exp(float64(y)); math.Abs(got-want) > 3e-6*want {
			t.Fatalf("fastExp(%g) = %g, want %g", y, got, want)
		}
	}
	if fastExp(-100) != 0 {
		t.Error("fastExp(-100) should underflow to 0")
	}
}

func TestNNLS(t *testing.T) {
	he := [2]vec3{unitVec(vec3{0.5626, 0.7201, 0.4062}), unitVec(vec3{0.2159, 0.8012, 0.5581})}
	s := newNNLS(he)
	rng := newRNG(43)
	for range 2000 {
		o := vec3{rng.Float64()*2 - 0.5, rng.Float64()*2 - 0.5, rng.Float64()*2 - 0.5}
		c0, c1 := s.solve(o)
		if c0 < 0 || c1 < 0 {
			t.Fatalf("negative concentrations %g, %g", c0, c1)
		}
		res := func(a, b float64) float64 {
			var r float64
			for k := range 3 {
				d := o[k] - a*he[0][k] - b*he[1][k]
				r += d * d
			}
			return r
		}
		best := res(c0, c1)
		// No feasible point on a grid around the solution does better.
		for da := -0.05; da <= 0.05; da += 0.01 {
			for db := -0.05; db <= 0.05; db += 0.01 {
				a, b := c0+da, c1+db
				if a >= 0 && b >= 0 && res(a, b) < best-1e-12 {
					t.Fatalf("o=%v: (%g, %g) has residual %g, (%g, %g) does better with %g", o, c0, c1, best, a, b, res(a, b))
				}
			}
		}
	}
}
