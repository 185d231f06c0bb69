package segment

import (
	"math/rand/v2"
	"testing"
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
