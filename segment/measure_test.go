package segment

import (
	"math"
	"testing"

	"github.com/deepscope/deepscope/tensor"
)

func TestMeasure(t *testing.T) {
	w, h := 100, 60
	l := paint(w, h, []disc{{25, 30, 12}})
	// An ellipse with semi-axes 20 and 10, axis-aligned, as object 2.
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			if dx, dy := (float64(x)-70)/20, (float64(y)-30)/10; dx*dx+dy*dy <= 1 {
				l.Pix[y*w+x] = 2
			}
		}
	}
	// A 10x5 rectangle, object 3, in the corner.
	for y := 0; y < 5; y++ {
		for x := 0; x < 10; x++ {
			l.Pix[y*w+x] = 3
		}
	}
	img := tensor.New(h, w, 1)
	for i, v := range l.Pix {
		img.Data[i] = float32(v) / 4
	}
	objs := Measure(l, img)
	if len(objs) != 3 {
		t.Fatalf("%d objects, want 3", len(objs))
	}
	near := func(what string, got, want, tol float64) {
		t.Helper()
		if math.Abs(got-want) > tol {
			t.Errorf("%s = %.4f, want %.4f ± %.4f", what, got, want, tol)
		}
	}
	d, e, r := objs[0], objs[1], objs[2]
	near("disc area", float64(d.Area), math.Pi*144, 0.03*math.Pi*144)
	near("disc perimeter", d.Perimeter, 2*math.Pi*12, 0.06*2*math.Pi*12)
	near("disc centroid x", d.X, 25, 1e-9)
	near("disc centroid y", d.Y, 30, 1e-9)
	near("disc eccentricity", d.Eccentricity, 0, 0.1)
	near("disc mean intensity", d.MeanIntensity, 0.25, 1e-6)
	near("ellipse eccentricity", e.Eccentricity, math.Sqrt(1-0.25), 0.02)
	near("ellipse mean intensity", e.MeanIntensity, 0.5, 1e-6)
	// The rectangle's contour through its edge pixels' centres is
	// 2*(9 + 4) = 26 long: 26 edge pixels of weight 1 each.
	near("rectangle perimeter", r.Perimeter, 26, 1e-9)
	near("rectangle centroid x", r.X, 4.5, 1e-9)
	near("rectangle centroid y", r.Y, 2, 1e-9)
	near("rectangle eccentricity", r.Eccentricity, math.Sqrt(1-(25-1)/(100-1.0)), 1e-9)
}

func TestPictures(t *testing.T) {
	truth := paint(300, 100, []disc{{50, 50, 20}, {150, 50, 20}})
	pred := paint(300, 100, []disc{{52, 50, 20}})
	img := tensor.New(100, 300, 1)
	ov := Overlay(img, truth)
	if ov.Rect.Dx() != 300 || ov.NRGBAAt(50, 30) == ov.NRGBAAt(50, 50) {
		t.Errorf("overlay %v: no outline at the disc's top edge", ov.Rect)
	}
	cmp := Compare(img, truth, pred)
	if cmp.Rect.Dx() != 2*300+4 {
		t.Errorf("comparison is %d wide, want %d", cmp.Rect.Dx(), 2*300+4)
	}
	small := compareSmall(img, truth, pred, 200)
	if w := small.Rect.Dx(); w > 200 || w < 100 {
		t.Errorf("thinned comparison is %d wide, want at most 200", w)
	}
	// The thinned picture still has both discs' outlines on the left.
	green := 0
	for y := 0; y < small.Rect.Dy(); y++ {
		for x := 0; x < small.Rect.Dx()/2; x++ {
			if c := small.NRGBAAt(x, y); c.G == 230 && c.R == 0 {
				green++
			}
		}
	}
	if green < 20 {
		t.Errorf("thinned comparison shows %d outline pixels of the truth", green)
	}
}
