package segment

import (
	"math/rand/v2"
	"testing"

	"github.com/deepscope/deepscope/tensor"
)

func TestTargets(t *testing.T) {
	// Two 4x3 objects side by side, touching, and a lone pixel.
	l := rects(10, 5, [4]int{0, 1, 4, 4}, [4]int{4, 1, 8, 4}, [4]int{9, 0, 10, 1})
	got := Targets(l)
	want := []string{
		".........B",
		"BBBBBBBB..",
		"IIIBBIIB..", // the image edge is no boundary: the object may go on beyond it
		"BBBBBBBB..",
		"..........",
	}
	for y, row := range want {
		for x, ch := range row {
			c := map[rune]uint8{'.': Background, 'I': Interior, 'B': Boundary}[ch]
			if got[y*10+x] != c {
				t.Errorf("pixel %d,%d: class %d, want %d", x, y, got[y*10+x], c)
			}
		}
	}
}

// probsFrom returns one-hot-ish probabilities of the classes of l.
func probsFrom(l *Labels) []float32 { return oracle()(classPlane(l), l.W, l.H) }

func TestInstancesSplitTouchingDiscs(t *testing.T) {
	// Two discs of radius 10 whose centres are 19 px apart touch along a
	// short line: their foreground is one connected region.
	truth := paint(60, 40, []disc{{18, 20, 10}, {37, 20, 10}})
	fg := NewLabels(60, 40)
	for i, v := range truth.Pix {
		if v != 0 {
			fg.Pix[i] = 1
		}
	}
	if n := func() int { c := components8(fg); return c[1] }(); n != 1 {
		t.Fatalf("test set-up: the discs' foreground is in %d pieces, want 1 (touching)", n)
	}
	got := Instances(probsFrom(truth), 60, 40, InstanceConfig{})
	if n := got.Count(); n != 2 {
		t.Fatalf("found %d objects, want 2", n)
	}
	s := Score(truth, got)
	if s.PerThreshold[6] != 1 { // every object matched at IoU 0.8
		t.Errorf("objects do not match the discs at IoU 0.8: %+v", s)
	}
}

func TestInstancesUnseededForeground(t *testing.T) {
	// A thin object has no interior: it must still be found.
	truth := rects(20, 10, [4]int{2, 2, 18, 4})
	got := Instances(probsFrom(truth), 20, 10, InstanceConfig{})
	if s := Score(truth, got); s.Score != 1 {
		t.Errorf("a 2-pixel-thin object: score %g, want 1 (labels %v)", s.Score, got.Pix)
	}
}

func TestInstancesManyDiscs(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	truth := paint(128, 128, randomDiscs(rng, 128, 128, 30, 4, 9, -1.5))
	got := Instances(probsFrom(truth), 128, 128, InstanceConfig{})
	got.RemoveSmall(InstanceConfig{}.WithDefaults().MinArea)
	if s := Score(truth, got); s.AP50 < 0.95 || s.Score < 0.8 {
		t.Errorf("ideal probabilities of %d touching discs: score %.3f AP50 %.3f, want >= 0.8 and 0.95", truth.Count(), s.Score, s.AP50)
	}
}

func TestNormalize(t *testing.T) {
	// A dim 16-bit fluorescence image (values up to 0.02 of the range)
	// and a brightfield image (dark objects on a bright field, RGB) both
	// come out with bright objects spanning [0, 1].
	w, h := 40, 30
	truth := paint(w, h, []disc{{20, 15, 8}})
	dim := tensor.New(h, w, 1)
	bright := tensor.New(h, w, 3)
	for i, v := range truth.Pix {
		f := float32(0.002)
		if v != 0 {
			f = 0.02
		}
		dim.Data[i] = f + float32(i%7)*1e-5
		for k := 0; k < 3; k++ {
			bright.Data[3*i+k] = 0.9 - 40*f + float32(k)*0.01
		}
	}
	for name, img := range map[string]*tensor.Tensor{"dim grey": dim, "brightfield RGB": bright} {
		p := Normalize(img)
		var in, out float64
		for i, v := range truth.Pix {
			if v != 0 {
				in += float64(p[i])
			} else {
				out += float64(p[i])
			}
		}
		in /= float64(truth.Areas()[1])
		out /= float64(w*h - truth.Areas()[1])
		if in < 0.9 || out > 0.1 {
			t.Errorf("%s: mean %.3f inside the object, %.3f outside; want bright objects on a dark field", name, in, out)
		}
	}
}

func TestInstancesGrowthMeetsMidway(t *testing.T) {
	// Two one-pixel-high seeds at the ends of a strip of equally likely
	// boundary: growth is a race at equal speed, so they meet in the
	// middle, whatever the scan order.
	const w = 20
	probs := make([]float32, 0, 3*w*3)
	for y := 0; y < 3; y++ {
		for x := 0; x < w; x++ {
			switch {
			case y == 1 && (x == 2 || x == 17):
				probs = append(probs, 0, 1, 0)
			default:
				probs = append(probs, 0, 0, 1)
			}
		}
	}
	l := Instances(probs, w, 3, InstanceConfig{MinSeed: 1})
	for y := 0; y < 3; y++ {
		for x := 0; x < w; x++ {
			want := int32(1)
			if x >= 10 {
				want = 2
			}
			if got := l.At(x, y); got != want {
				t.Fatalf("row %d: labels %v, want the split between columns 9 and 10", y, l.Pix[y*w:(y+1)*w])
			}
		}
	}
}
