package transform

import (
	"errors"
	"math"
	"testing"

	"github.com/deepscope/deepscope/tensor"
)

// smear draws a field of side n: a peach background, pink red cells and
// one purple nucleus of radius r at (cx, cy), each by Beer-Lambert
// absorbance, as a stained blood smear looks.
func smear(n int, cx, cy, r float64) *tensor.Tensor {
	light := [3]float64{0.98, 0.90, 0.82}
	purple := [3]float64{1.1, 1.5, 0.5} // optical density of a nucleus
	pink := [3]float64{0.1, 0.45, 0.3}  // of a red cell
	img := tensor.New(n, n, 3)
	s := float64(n) / 64
	rbcs := [][3]float64{{10, 10, 7}, {54, 12, 7}, {12, 52, 7}, {52, 54, 7}, {32, 6, 6}}
	for y := range n {
		for x := range n {
			px, py := float64(x)+0.5, float64(y)+0.5
			var od [3]float64
			for _, c := range rbcs {
				if math.Hypot(px-c[0]*s, py-c[1]*s) < c[2]*s {
					for k := range od {
						od[k] += pink[k]
					}
				}
			}
			if d := math.Hypot(px-cx, py-cy); d < r*1.6 { // cytoplasm
				for k := range od {
					od[k] += 0.15 * pink[k]
				}
				if d < r {
					for k := range od {
						od[k] += purple[k]
					}
				}
			}
			for k := range 3 {
				img.Data[(y*n+x)*3+k] = float32(light[k] * math.Exp(-od[k]))
			}
		}
	}
	return img
}

func TestFindNucleus(t *testing.T) {
	tests := []struct {
		n          int
		cx, cy, r  float64
		wantX, tol float64
	}{
		{64, 32, 32, 8, 32, 1.5},
		{64, 40, 28, 6, 40, 1.5},
		{128, 64, 64, 16, 64, 2},
	}
	for _, tc := range tests {
		nuc, err := FindNucleus(smear(tc.n, tc.cx, tc.cy, tc.r))
		if err != nil {
			t.Fatalf("%+v: %v", tc, err)
		}
		if math.Abs(nuc.X-tc.cx) > tc.tol || math.Abs(nuc.Y-tc.cy) > tc.tol || math.Abs(nuc.Diameter-2*tc.r) > 2*tc.tol {
			t.Errorf("%+v: found %+v", tc, nuc)
		}
	}
	blank := tensor.Full(0.9, 32, 32, 3)
	if _, err := FindNucleus(blank); !errors.Is(err, ErrNoNucleus) {
		t.Errorf("blank field: %v, want ErrNoNucleus", err)
	}
}

// TestRescaleEquivariant: the nucleus found after Rescale scales with the
// factor, which is what makes CellCrop undo a change of magnification.
func TestRescaleEquivariant(t *testing.T) {
	img := smear(96, 48, 48, 9)
	base, err := FindNucleus(img)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []float64{0.6, 1.5, 2} {
		nuc, err := FindNucleus(Rescale{f}.Apply(img, nil))
		if err != nil {
			t.Fatalf("factor %g: %v", f, err)
		}
		if ratio := nuc.Diameter / base.Diameter; math.Abs(ratio-f) > 0.1*f {
			t.Errorf("factor %g: diameter %.2f over %.2f = %.3f", f, nuc.Diameter, base.Diameter, ratio)
		}
	}
	if (Rescale{1}).Apply(img, nil) != img {
		t.Error("Rescale(1) copied the image")
	}
	// Shrunk, the corners show the background.
	small := Rescale{0.5}.Apply(img, nil)
	bg := Background(img)
	for k := range 3 {
		if d := math.Abs(float64(small.Data[k] - bg[k])); d > 0.01 {
			t.Errorf("corner of a shrunk image: channel %d is %v, background %v", k, small.Data[k], bg[k])
		}
	}
}

// TestCellCropNormalisesScale: the same cell at two magnifications comes
// out of CellCrop nearly the same.
func TestCellCropNormalisesScale(t *testing.T) {
	img := smear(128, 64, 64, 10)
	cc := CellCrop{Size: 48}
	a := cc.Apply(img, nil)
	b := cc.Apply(Rescale{1.8}.Apply(img, nil), nil)
	c := cc.Apply(Rescale{0.7}.Apply(img, nil), nil)
	if a.Dim(0) != 48 || a.Dim(1) != 48 {
		t.Fatalf("shape %v", a.Shape)
	}
	// Compare the central region (the window around the nucleus).
	centre := func(x *tensor.Tensor) *tensor.Tensor { return CenterCrop{H: 24, W: 24}.Apply(x, nil) }
	for name, x := range map[string]*tensor.Tensor{"1.8x": b, "0.7x": c} {
		d := meanAbs(centre(a), centre(x))
		t.Logf("%s: %.4f", name, d)
		if d > 0.03 {
			t.Errorf("%s: mean difference %.4f from the original's crop", name, d)
		}
	}
	// Without normalisation the difference is large.
	if d := meanAbs(centre(ResizeTo(img, 48, 48)), centre(ResizeTo(Rescale{1.8}.Apply(img, nil), 48, 48))); d < 0.05 {
		t.Errorf("rescaling changed the plain image by only %.4f: the test shows nothing", d)
	}
	// A blank field is resized whole.
	if out := cc.Apply(tensor.Full(0.8, 20, 30, 3), nil); out.Dim(0) != 48 || out.Dim(1) != 48 {
		t.Errorf("blank field: shape %v", out.Shape)
	}
}

func meanAbs(a, b *tensor.Tensor) float64 {
	var s float64
	for i := range a.Data {
		s += math.Abs(float64(a.Data[i] - b.Data[i]))
	}
	return s / float64(len(a.Data))
}

func TestRestainRelight(t *testing.T) {
	img := smear(32, 16, 16, 5)
	if d := maxDiff(Restain{}.Apply(img, nil), img); d > 1e-4 {
		t.Errorf("Restain{} changed the image by %g", d)
	}
	more := Restain{Alpha: [3]float64{1.5, 1, 1}}.Apply(img, nil)
	centre := (16*32 + 16) * 3
	if !(more.Data[centre] < img.Data[centre]) {
		t.Errorf("more haematoxylin did not darken the nucleus's red: %v vs %v", more.Data[centre], img.Data[centre])
	}
	light := [3]float32{0.85, 0.9, 1}
	lit := Relight{Light: light}.Apply(img, nil)
	bg := Background(lit)
	for k := range 3 {
		if math.Abs(float64(bg[k]-light[k])) > 0.01 {
			t.Errorf("background after Relight %v, want %v", bg, light)
		}
	}
}
