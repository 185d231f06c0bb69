package segment

import (
	"image"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/deepscope/deepscope/tensor"
)

// disc is a filled circle centred at (x, y).
type disc struct{ x, y, r float64 }

// paint labels the pixels of each disc (later discs win where they meet).
func paint(w, h int, discs []disc) *Labels {
	l := NewLabels(w, h)
	for k, d := range discs {
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				if dx, dy := float64(x)-d.x, float64(y)-d.y; dx*dx+dy*dy <= d.r*d.r {
					l.Pix[y*w+x] = int32(k + 1)
				}
			}
		}
	}
	return l
}

// randomDiscs places n discs of radius in [rmin, rmax] inside w x h, each
// at least gap apart from the others' edges (gap < 0 lets them overlap by
// that much, so they touch).
func randomDiscs(rng *rand.Rand, w, h, n int, rmin, rmax, gap float64) []disc {
	var out []disc
	for tries := 0; len(out) < n && tries < 1000; tries++ {
		r := rmin + (rmax-rmin)*rng.Float64()
		d := disc{r + 1 + rng.Float64()*(float64(w)-2*r-2), r + 1 + rng.Float64()*(float64(h)-2*r-2), r}
		ok := true
		for _, o := range out {
			if math.Hypot(d.x-o.x, d.y-o.y) < d.r+o.r+gap {
				ok = false
				break
			}
		}
		if ok {
			out = append(out, d)
		}
	}
	return out
}

// touchingNuclei returns a new 112 x 96 image of 14 nuclei, some
// touching, and its labels: the image every trained model of these tests
// is judged on.
func touchingNuclei() (*tensor.Tensor, *Labels) {
	rng := rand.New(rand.NewPCG(99, 1))
	discs := randomDiscs(rng, 112, 96, 14, 4, 8, -1)
	truth := paint(112, 96, discs)
	return nucleiImage(rng, discs, truth), truth
}

// checkSegments scores pred against truth and reports an error, naming
// what made pred, unless AP at IoU 0.5 is at least 0.6 and Dice 0.8.
func checkSegments(t *testing.T, what string, truth, pred *Labels) {
	t.Helper()
	s := Score(truth, pred)
	t.Logf("%s: %d objects (true %d), score %.3f, AP50 %.3f, Dice %.3f", what, s.Pred, s.True, s.Score, s.AP50, s.Dice)
	if s.AP50 < 0.6 || s.Dice < 0.8 {
		t.Errorf("%s: AP50 %.3f, Dice %.3f on a new image; want >= 0.6 and 0.8", what, s.AP50, s.Dice)
	}
}

// nucleiImage renders discs (labelled in l) as a fluorescence-like grey
// image: each nucleus of its own brightness, dimmer towards its rim (so
// touching nuclei show a dip where they meet), on a dark, noisy background.
func nucleiImage(rng *rand.Rand, discs []disc, l *Labels) *tensor.Tensor {
	img := tensor.New(l.H, l.W, 1)
	bright := make([]float64, len(discs))
	for k := range bright {
		bright[k] = 0.5 + 0.4*rng.Float64()
	}
	for y := 0; y < l.H; y++ {
		for x := 0; x < l.W; x++ {
			v := 0.1
			if k := l.Pix[y*l.W+x]; k > 0 {
				d := discs[k-1]
				r := math.Hypot(float64(x)-d.x, float64(y)-d.y) / d.r
				v = bright[k-1] * (1 - 0.5*r*r)
			}
			img.Data[y*l.W+x] = float32(min(max(v+0.05*rng.NormFloat64(), 0), 1))
		}
	}
	return img
}

// oracle returns a ProbFunc that reads the classes off a plane made by
// classPlane: pixel-local, so it sees the same in any window.
func oracle() ProbFunc {
	return func(plane []float32, w, h int) []float32 {
		p := make([]float32, w*h*NumClasses)
		for i, v := range plane {
			c := Background
			switch {
			case v > 0.75:
				c = Interior
			case v > 0.25:
				c = Boundary
			}
			for k := range NumClasses {
				p[i*NumClasses+k] = 0.05
			}
			p[i*NumClasses+c] = 0.9
		}
		return p
	}
}

// classPlane encodes the classes of l as plane values oracle reads back.
func classPlane(l *Labels) []float32 {
	cls := Targets(l)
	out := make([]float32, len(cls))
	for i, c := range cls {
		out[i] = [3]float32{0, 1, 0.5}[c]
	}
	return out
}

// writePNG writes img to path, creating its folder.
func writePNG(t testing.TB, path string, img image.Image) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
}

// greyImage converts a [H, W, 1] tensor to an 8-bit grey image.
func greyImage(x *tensor.Tensor) *image.Gray {
	h, w := x.Dim(0), x.Dim(1)
	g := image.NewGray(image.Rect(0, 0, w, h))
	for i, v := range x.Data[:h*w] {
		g.Pix[i] = uint8(min(max(v, 0), 1)*255 + 0.5)
	}
	return g
}

// writeDataset writes n synthetic images with labels in the images/ and
// labels/ layout and returns the folder.
func writeDataset(t testing.TB, dir string, n, size int, seed uint64) string {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 1))
	if err := os.MkdirAll(filepath.Join(dir, "labels"), 0o755); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		discs := randomDiscs(rng, size, size, 3+rng.IntN(4), 4, 8, -1)
		l := paint(size, size, discs)
		name := "img" + string(rune('a'+i/26)) + string(rune('a'+i%26)) + ".png"
		writePNG(t, filepath.Join(dir, "images", name), greyImage(nucleiImage(rng, discs, l)))
		if err := WriteLabels(filepath.Join(dir, "labels", name), l); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// sameObjects reports whether two label images split the pixels into the
// same objects (whatever their numbers).
func sameObjects(a, b *Labels) bool {
	if a.W != b.W || a.H != b.H {
		return false
	}
	ab, ba := map[int32]int32{}, map[int32]int32{}
	for i, x := range a.Pix {
		y := b.Pix[i]
		if (x == 0) != (y == 0) {
			return false
		}
		if v, ok := ab[x]; ok && v != y {
			return false
		}
		if v, ok := ba[y]; ok && v != x {
			return false
		}
		ab[x], ba[y] = y, x
	}
	return true
}
