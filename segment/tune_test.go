package segment

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// discImages makes n labelled w x h images of k discs of radius rmin to
// rmax, at least gap pixels apart (see randomDiscs), whose planes
// (classPlane, which oracle reads back) edit then changes.
func discImages(rng *rand.Rand, n, w, h, k int, rmin, rmax, gap float64, edit func(truth *Labels, plane []float32)) []evalImage {
	var images []evalImage
	for range n {
		truth := paint(w, h, randomDiscs(rng, w, h, k, rmin, rmax, gap))
		plane := classPlane(truth)
		edit(truth, plane)
		images = append(images, evalImage{plane: plane, truth: truth})
	}
	return images
}

// TestTuneCorrectsBiasedProbabilities gives the search probabilities that
// put a ring of pixels just outside every object at foreground
// probability 0.58: the default threshold of 0.5 takes the ring in and
// makes every object too large, and the search must find a foreground
// threshold above 0.58, which gives the true objects back.
func TestTuneCorrectsBiasedProbabilities(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	images := discImages(rng, 6, 96, 80, 8, 3, 7, 3, func(truth *Labels, plane []float32) {
		for i := range plane { // the ring: background pixels next to an object
			x, y := i%truth.W, i/truth.W
			for _, q := range neighbours4(x, y, truth.W, truth.H) {
				if plane[i] == 0 && q >= 0 && truth.Pix[q] != 0 {
					plane[i] = 0.2
				}
			}
		}
	})
	prob := func(plane []float32, w, h int) []float32 {
		p := oracle()(plane, w, h)
		for i, v := range plane {
			if v == 0.2 {
				copy(p[i*NumClasses:], []float32{0.42, 0.08, 0.5})
			}
		}
		return p
	}
	tc := TileConfig{Tile: 64, Overlap: 16}
	tn := tune(prob, tc, InstanceConfig{MinArea: 5}, images, nil)
	t.Logf("%+v", *tn)
	if tn.Instance.Foreground <= 0.58 || tn.Instance.MinArea != 5 {
		t.Errorf("tuned %+v: want a foreground threshold above 0.58 and the start's MinArea", tn.Instance)
	}
	if !(tn.Before < 0.9 && tn.After > 0.99 && tn.CrossVal > 0.99) {
		t.Errorf("scores before %.3f, after %.3f, cross-validated %.3f: want < 0.9, then > 0.99 both ways", tn.Before, tn.After, tn.CrossVal)
	}
	for _, im := range images {
		if got := Segment(im.plane, im.truth.W, im.truth.H, prob, tc, tn.Instance); !sameObjects(got, im.truth) {
			t.Fatal("the tuned thresholds do not give the true objects back")
		}
	}
}

// TestTuneDropsSpecks gives the search images whose probabilities show,
// besides the true nuclei (at least 78 pixels each), specks of 9 pixels
// that no label has, as debris does: the search must raise the smallest
// object kept above the specks and below the nuclei.
func TestTuneDropsSpecks(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 9))
	images := discImages(rng, 4, 96, 96, 6, 5, 8, 4, func(truth *Labels, plane []float32) {
		for specks := 0; specks < 4; {
			x, y := 2+rng.IntN(90), 2+rng.IntN(90)
			clear := true
			for dy := -2; dy <= 4; dy++ {
				for dx := -2; dx <= 4; dx++ {
					if q := (y+dy)*96 + x + dx; y+dy >= 96 || x+dx >= 96 || truth.Pix[q] != 0 || plane[q] != 0 {
						clear = false
					}
				}
			}
			if !clear {
				continue
			}
			for dy := range 3 {
				for dx := range 3 {
					plane[(y+dy)*96+x+dx] = 1
				}
			}
			specks++
		}
	})
	tn := tune(oracle(), TileConfig{Tile: 64, Overlap: 16}, InstanceConfig{MinArea: 4}, images, nil)
	if a := tn.Instance.MinArea; a <= 9 || a > 78 {
		t.Errorf("tuned %+v: want the smallest object kept in (9, 78] pixels", tn.Instance)
	}
	if !(tn.Before < 0.9 && tn.After > 0.99 && tn.CrossVal > 0.99) {
		t.Errorf("scores before %.3f, after %.3f, cross-validated %.3f: want < 0.9, then > 0.99 both ways", tn.Before, tn.After, tn.CrossVal)
	}
}

// TestTuneKeepsGoodThresholds: with exact probabilities every threshold
// in the grid gives the truth, and ties keep the start.
func TestTuneKeepsGoodThresholds(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	truth := paint(64, 64, randomDiscs(rng, 64, 64, 6, 3, 6, 3))
	images := []evalImage{{plane: classPlane(truth), truth: truth}, {plane: classPlane(truth), truth: truth}}
	tn := tune(oracle(), TileConfig{}, InstanceConfig{}, images, nil)
	if d := (InstanceConfig{}).WithDefaults(); tn.Instance != d || tn.Before != 1 || tn.After != 1 || tn.CrossVal != 1 {
		t.Errorf("tuned %+v: want the defaults %+v and scores of 1", *tn, d)
	}
}

// TestBroadestPeak: the search chooses the middle of a broad optimum over
// a higher lone peak, and keeps the current value on a tie.
func TestBroadestPeak(t *testing.T) {
	for _, c := range []struct {
		scores [12]float64
		cur    int
		held   float64
		want   int
	}{
		{[12]float64{0.5, 0.5, 0.9, 0.5, 0.5, 0.80, 0.82, 0.80, 0.5, 0.5, 0.5, 0.5}, 2, 0.9, 6}, // lone peak at 2 against a broad one at 6
		{[12]float64{0.5, 0.6, 0.7, 0.8, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2}, 0, 0.5, 4},
		{[12]float64{0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5}, 7, 0.5, 7},   // flat: stay
		{[12]float64{0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5}, -1, 0.5, -1}, // off the grid, no better: stay
		{[12]float64{0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.6}, -1, 0.5, 11}, // off the grid, beaten
		{[12]float64{0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2}, 3, 0.4, 11},  // at the edge, averaged with its one neighbour
	} {
		if got := broadestPeak(c.scores, c.cur, c.held); got != c.want {
			t.Errorf("broadestPeak(%v, %d, %g) = %d, want %d", c.scores, c.cur, c.held, got, c.want)
		}
	}
}

// TestReportSaysHowObjectsWereMade: the report gives the thresholds, for a
// tuned run the tuning's three scores, and the errors by kind.
func TestReportSaysHowObjectsWereMade(t *testing.T) {
	res := &EvalResult{Data: "d", Split: "holdout", Instance: InstanceConfig{Foreground: 0.65, Seed: 0.6, MinConfidence: 0.825}.WithDefaults()}
	res.Summary = Summary{TrueObjects: 200, PredObjects: 190, Errors: Errors{Missed: 4, Merged: 10, Spurious: 19}}
	ri := &RunInfo{Tuning: &Tuning{Images: 66, Before: 0.541, After: 0.560, CrossVal: 0.552}}
	b, err := renderReport(ri, res, nil, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"exceeds 0.65", "exceeds 0.60", "66 hold-out images", "0.541 to 0.560", "to 0.552", "lean optimistic",
		"merged with a neighbour", "10 (5.0%)", "19 (10.0%)", "mean foreground probability is under 0.825"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("report lacks %q", want)
		}
	}
}
