package segment

import (
	"context"
	"image"
	"image/color"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/deepscope/deepscope/tensor"
)

// Stain colours of the synthetic brightfield images: purple nuclei on pink
// cytoplasm on a white field, the purple chosen with the pink's luminance,
// so that only hue tells them apart.
var (
	whiteField = [3]float64{0.95, 0.95, 0.95}
	pinkCyto   = [3]float64{0.85, 0.55, 0.75}
	purpleNuc  = [3]float64{0.55, 0.665, 0.95}
)

func luminance(c [3]float64) float64 { return 0.299*c[0] + 0.587*c[1] + 0.114*c[2] }

// stainedCells places n cells of radius 6 to 10 in a w x h field, apart:
// each is a disc of cytoplasm, and the first third have a nucleus of half
// the cell's radius at its centre. It returns the cells and the nuclei's
// labels.
func stainedCells(rng *rand.Rand, w, h, n int) ([]disc, *Labels) {
	cells := randomDiscs(rng, w, h, n, 6, 10, 2)
	var nuclei []disc
	for _, c := range cells[:len(cells)/3] {
		nuclei = append(nuclei, disc{c.x, c.y, c.r / 2})
	}
	return cells, paint(w, h, nuclei)
}

// stainedImage renders cells and their nuclei (labelled in l) in the
// colours above with a little noise: in grey, a cell with a nucleus and
// one without look alike.
func stainedImage(rng *rand.Rand, discs []disc, l *Labels) *tensor.Tensor {
	img := tensor.New(l.H, l.W, 3)
	for y := 0; y < l.H; y++ {
		for x := 0; x < l.W; x++ {
			c := whiteField
			for _, d := range discs {
				if math.Hypot(float64(x)-d.x, float64(y)-d.y) <= d.r {
					c = pinkCyto
				}
			}
			if l.Pix[y*l.W+x] != 0 {
				c = purpleNuc
			}
			for k := range 3 {
				img.Data[(y*l.W+x)*3+k] = float32(min(max(c[k]+0.02*rng.NormFloat64(), 0), 1))
			}
		}
	}
	return img
}

func rgbImage(x *tensor.Tensor) *image.RGBA {
	h, w := x.Dim(0), x.Dim(1)
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := range w * h {
		px := func(k int) uint8 { return uint8(x.Data[3*i+k]*255 + 0.5) }
		img.SetRGBA(i%w, i/w, color.RGBA{px(0), px(1), px(2), 255})
	}
	return img
}

func TestNormalizeColour(t *testing.T) {
	if d := math.Abs(luminance(pinkCyto) - luminance(purpleNuc)); d > 0.002 {
		t.Fatalf("test colours differ in luminance by %.4f", d)
	}
	rng := rand.New(rand.NewPCG(7, 7))
	discs := []disc{{20, 20, 10}, {44, 44, 12}}
	truth := paint(64, 64, []disc{{20, 20, 5}})
	img := stainedImage(rng, discs, truth)
	p := NormalizeColour(img)
	if len(p) != 3*64*64 {
		t.Fatalf("%d values for 64x64 pixels, want three each", len(p))
	}
	// Inverted (bright field), the white field goes dark, and the nuclei
	// differ from the cytoplasm in hue although not in grey.
	at := func(x, y int) [3]float32 { i := 3 * (y*64 + x); return [3]float32{p[i], p[i+1], p[i+2]} }
	field, nucleus, cyto := at(2, 2), at(20, 20), at(20, 28)
	for k := range 3 {
		if field[k] > 0.2 {
			t.Errorf("white field channel %d normalised to %.2f, want dark", k, field[k])
		}
	}
	if d := math.Abs(float64(nucleus[0]-cyto[0])) + math.Abs(float64(nucleus[2]-cyto[2])); d < 0.5 {
		t.Errorf("nucleus %v and cytoplasm %v: red and blue differ by %.2f in all, want hue kept", nucleus, cyto, d)
	}
	// A grey image gives three copies of Normalize's plane.
	grey := nucleiImage(rng, discs[:1], truth)
	g, c := Normalize(grey), NormalizeColour(grey)
	for i, v := range g {
		if c[3*i] != v || c[3*i+1] != v || c[3*i+2] != v {
			t.Fatalf("grey pixel %d: %v, want three copies of %v", i, c[3*i:3*i+3], v)
		}
	}
}

// TestColourTellsNucleiFromCytoplasm trains on stained images whose nuclei
// and cytoplasm have one grey level, where two cells in three have no
// nucleus: the grey network cannot tell which cells have one, the colour
// one must.
func TestColourTellsNucleiFromCytoplasm(t *testing.T) {
	tensor.SetThreads(1)
	defer tensor.SetThreads(0)
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(11, 1))
	for i := range 16 {
		discs, l := stainedCells(rng, 64, 64, 9)
		name := filepath.Join(dir, "images", "s"+string(rune('a'+i))+".png")
		writePNG(t, name, rgbImage(stainedImage(rng, discs, l)))
		if err := os.MkdirAll(filepath.Join(dir, "labels"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := WriteLabels(filepath.Join(dir, "labels", filepath.Base(name)), l); err != nil {
			t.Fatal(err)
		}
	}
	discs, truth := stainedCells(rng, 96, 96, 18)
	test := stainedImage(rng, discs, truth)
	ap := map[bool]float64{}
	for _, colour := range []bool{false, true} {
		cfg := tinyConfig(dir)
		cfg.Colour = colour
		out := filepath.Join(t.TempDir(), "run")
		if _, err := Train(context.Background(), cfg, Options{Out: out}); err != nil {
			t.Fatal(err)
		}
		m, _, err := Load(out)
		if err != nil {
			t.Fatal(err)
		}
		if want := cfg.InChannels(); m.Channels != want {
			t.Fatalf("colour %v: loaded model takes %d channels, want %d", colour, m.Channels, want)
		}
		s := Score(truth, m.Segment(test))
		ap[colour] = s.AP50
		t.Logf("colour %v: %d objects (true %d), AP50 %.3f", colour, s.Pred, s.True, s.AP50)
	}
	if ap[true] < 0.8 || ap[false] > 0.5 {
		t.Errorf("AP50 %.3f in colour and %.3f in grey; want >= 0.8 and <= 0.5", ap[true], ap[false])
	}
}
