package segment

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestContactMapMatchesBruteForce compares contactMap with distances
// measured from every pixel to every pixel of every object, on touching
// and nearly touching discs and on a ragged object.
func TestContactMapMatchesBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 5))
	w, h := 61, 47
	l := paint(w, h, randomDiscs(rng, w, h, 9, 3, 9, -2))
	for y := 30; y < 44; y++ { // a ragged object: a diagonal staircase
		for x := 3 + y - 30; x < 8+y-30; x += 2 {
			l.Pix[y*w+x] = 50
		}
	}
	got := contactMap(l, contactSigma)
	reach := 4.0 * contactSigma
	ids := map[int32][]int{}
	for i, v := range l.Pix {
		if v != 0 {
			ids[v] = append(ids[v], i)
		}
	}
	for i := range l.Pix {
		var ds []float64
		for _, pix := range ids {
			d := math.Inf(1)
			for _, p := range pix {
				d = min(d, math.Hypot(float64(p%w-i%w), float64(p/w-i/w)))
			}
			if d <= reach {
				ds = append(ds, d)
			}
		}
		slices.Sort(ds)
		want := 0.0
		if len(ds) >= 2 {
			s := ds[0] + ds[1]
			want = 255 * math.Exp(-s*s/(2*contactSigma*contactSigma))
		}
		if math.Abs(float64(got[i])-want) > 0.5+1e-9 {
			t.Fatalf("pixel (%d, %d): %d, want %.2f (nearest objects at %v)", i%w, i/w, got[i], want, ds)
		}
	}
}

// TestContactMapWhereObjectsMeet checks the map's meaning on two squares
// that touch along a side, and a third far from both.
func TestContactMapWhereObjectsMeet(t *testing.T) {
	w, h := 80, 30
	l := NewLabels(w, h)
	for y := 5; y < 15; y++ {
		for x := 5; x < 45; x++ {
			l.Pix[y*w+x] = 1 + int32(x/25) // 1 left of x = 25, 2 from it
		}
		for x := 60; x < 70; x++ {
			l.Pix[y*w+x] = 3
		}
	}
	m := contactMap(l, contactSigma)
	at := func(x, y int) uint8 { return m[y*w+x] }
	if v := at(24, 10); v < 245 { // d1 = 0, d2 = 1
		t.Errorf("on the contact: %d, want about 250", v)
	}
	if a, b := at(22, 10), at(24, 10); a >= b {
		t.Errorf("3 px from the contact (%d) not below on it (%d)", a, b)
	}
	for _, p := range [][2]int{{6, 10}, {64, 10}, {40, 25}, {0, 0}} {
		if v := at(p[0], p[1]); v != 0 {
			t.Errorf("(%d, %d), far from any second object: %d, want 0", p[0], p[1], v)
		}
	}
}
