package segment

import (
	"math/rand/v2"
	"testing"
)

func TestSpans(t *testing.T) {
	for _, c := range []struct{ n, tile, overlap int }{
		{10, 16, 4}, {16, 16, 4}, {17, 16, 4}, {100, 32, 8}, {1040, 256, 64}, {257, 256, 0}, {300, 64, 63},
	} {
		s := spans(c.n, c.tile, c.overlap)
		if s[0].c0 != 0 || s[len(s)-1].c1 != c.n {
			t.Errorf("%+v: cores cover [%d, %d), want [0, %d)", c, s[0].c0, s[len(s)-1].c1, c.n)
		}
		for i, sp := range s {
			if sp.w1-sp.w0 != min(c.tile, c.n) || sp.w0 < 0 || sp.w1 > c.n {
				t.Errorf("%+v: window %d is [%d, %d)", c, i, sp.w0, sp.w1)
			}
			if sp.c0 < sp.w0 || sp.c1 > sp.w1 || sp.c0 >= sp.c1 {
				t.Errorf("%+v: core %d [%d, %d) not inside its window [%d, %d)", c, i, sp.c0, sp.c1, sp.w0, sp.w1)
			}
			if i > 0 && sp.c0 != s[i-1].c1 {
				t.Errorf("%+v: cores %d and %d leave a gap or overlap", c, i-1, i)
			}
			// Every core border has at least half the overlap of context
			// on either side.
			if i > 0 && (sp.c0-sp.w0 < c.overlap/2 || s[i-1].w1-sp.c0 < c.overlap/2) {
				t.Errorf("%+v: border %d at %d has context [%d, %d)", c, i, sp.c0, sp.w0, s[i-1].w1)
			}
		}
	}
}

func TestTiledEqualsUntiled(t *testing.T) {
	// With pixel-local probabilities and objects smaller than half the
	// overlap, windows see every object whole: tiling must not change
	// anything.
	rng := rand.New(rand.NewPCG(5, 6))
	w, h := 230, 170
	truth := paint(w, h, randomDiscs(rng, w, h, 60, 4, 8, -1))
	plane := classPlane(truth)
	whole := Segment(plane, w, h, oracle(), TileConfig{Tile: 256}, InstanceConfig{})
	if s := Score(truth, whole); s.AP50 < 0.95 {
		t.Fatalf("untiled: AP50 %.3f, want >= 0.95", s.AP50)
	}
	for _, tc := range []TileConfig{{Tile: 64, Overlap: 32}, {Tile: 80, Overlap: 40}, {Tile: 128, Overlap: 48}} {
		tiled := Segment(plane, w, h, oracle(), tc, InstanceConfig{})
		if !sameObjects(whole, tiled) {
			s := Score(whole, tiled)
			t.Errorf("tile %d overlap %d: %d objects, untiled %d; score against untiled %.3f", tc.Tile, tc.Overlap, tiled.Count(), whole.Count(), s.Score)
		}
	}
}

func TestStitchAcrossBorders(t *testing.T) {
	// Tiles of 64 with overlap 32 put core borders at 48 and 80 (and so
	// on) along each axis. A disc centred on a border, one on a corner
	// where four cores meet, and a long bar across four windows, larger
	// than any overlap, must each come out as one object.
	w, h := 200, 120
	truth := paint(w, h, []disc{{48, 30, 9}, {80, 80, 7}})
	for y := 100; y < 108; y++ {
		for x := 10; x < 190; x++ {
			truth.Pix[y*w+x] = 3
		}
	}
	s := spans(w, 64, 32)
	if s[0].c1 != 48 || s[1].c1 != 80 {
		t.Fatalf("test set-up: core borders at %d and %d, want 48 and 80", s[0].c1, s[1].c1)
	}
	got := Segment(classPlane(truth), w, h, oracle(), TileConfig{Tile: 64, Overlap: 32}, InstanceConfig{})
	if n := got.Count(); n != 3 {
		t.Fatalf("found %d objects, want 3", n)
	}
	if sc := Score(truth, got); sc.PerThreshold[8] != 1 { // IoU above 0.9 for all three
		t.Errorf("objects cut by window borders were not stitched whole: %+v", sc)
	}
}

// TestMinConfidenceDropsUnsureObjects segments two nuclei, one the network
// is sure of (foreground probability 0.98) and one it is not (0.7), the
// latter across the border between two windows: MinConfidence 0.8 must
// drop the unsure one whole, and 0 keep both.
func TestMinConfidenceDropsUnsureObjects(t *testing.T) {
	truth := paint(96, 64, []disc{{16, 32, 8}, {48, 32, 9}})
	plane := classPlane(truth)
	for i, v := range truth.Pix {
		if v == 2 {
			plane[i] += 0.25 // 0.5 -> 0.75 (unsure boundary), 1 -> 1.25 (unsure interior)
		}
	}
	prob := func(plane []float32, w, h int) []float32 {
		p := make([]float32, 0, w*h*NumClasses)
		for _, v := range plane {
			p = append(p, map[float32][]float32{
				0: {0.9, 0.05, 0.05}, 1: {0.02, 0.9, 0.08}, 0.5: {0.02, 0.08, 0.9},
				1.25: {0.3, 0.6, 0.1}, 0.75: {0.3, 0.1, 0.6},
			}[v]...)
		}
		return p
	}
	tc := TileConfig{Tile: 64, Overlap: 16} // cores meet at x = 48, through the unsure nucleus
	both := Segment(plane, 96, 64, prob, tc, InstanceConfig{})
	if !sameObjects(both, truth) {
		t.Errorf("MinConfidence 0: %d objects, want both nuclei as they are", both.Count())
	}
	sure := Segment(plane, 96, 64, prob, tc, InstanceConfig{MinConfidence: 0.8})
	if !sameObjects(sure, paint(96, 64, []disc{{16, 32, 8}})) {
		t.Errorf("MinConfidence 0.8: %d objects, want the sure nucleus alone", sure.Count())
	}
}
