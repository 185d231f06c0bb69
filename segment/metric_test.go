package segment

import (
	"math"
	"testing"
)

// rects labels axis-aligned rectangles {x0, y0, x1, y1} (exclusive ends)
// in order, 1, 2, ...
func rects(w, h int, rs ...[4]int) *Labels {
	l := NewLabels(w, h)
	for k, r := range rs {
		for y := r[1]; y < r[3]; y++ {
			for x := r[0]; x < r[2]; x++ {
				l.Pix[y*w+x] = int32(k + 1)
			}
		}
	}
	return l
}

func TestScoreKnownAnswers(t *testing.T) {
	// Truth: two 10x10 squares. Prediction: the first exactly; the second
	// shifted so that IoU = 60/100... see each case.
	truth := rects(40, 20, [4]int{0, 0, 10, 10}, [4]int{20, 0, 30, 10})
	cases := []struct {
		name  string
		pred  *Labels
		score float64 // Data Science Bowl score
		ap50  float64
		dice  float64
		count int
		errs  Errors // at IoU 0.5
	}{
		{"perfect", rects(40, 20, [4]int{0, 0, 10, 10}, [4]int{20, 0, 30, 10}), 1, 1, 1, 0, Errors{}},
		{"empty prediction", NewLabels(40, 20), 0, 0, 0, -2, Errors{Missed: 2}},
		// Second square predicted as x 20..30, y 0..6 (60 px inside a
		// 100 px square): IoU 0.6, a match at 0.50 and 0.55 only. Plus a
		// false positive of 4x4. At 0.50, 0.55: TP 2, FP 1, FN 0 -> 2/3;
		// from 0.60 on: TP 1, FP 2, FN 1 -> 1/4.
		{"IoU 0.6 and a false positive", rects(40, 20, [4]int{0, 0, 10, 10}, [4]int{20, 0, 30, 6}, [4]int{35, 15, 39, 19}),
			(2*(2.0/3) + 8*(1.0/4)) / 10, 2.0 / 3, 2 * 160.0 / (200 + 176), 1, Errors{Spurious: 1}},
		// The two squares merged into one object covering both: IoU with
		// each is 100/200 = 0.5, not above 0.5: nothing matches.
		{"merged", func() *Labels {
			l := rects(40, 20, [4]int{0, 0, 10, 10}, [4]int{20, 0, 30, 10})
			for i, v := range l.Pix {
				if v == 2 {
					l.Pix[i] = 1
				}
			}
			return l
		}(), 0, 0, 1, -1, Errors{Merged: 2}},
		// The first square split into two halves (IoU 0.5 each: no match),
		// the second exact: TP 1, FP 2, FN 1 at every threshold.
		{"split", rects(40, 20, [4]int{0, 0, 5, 10}, [4]int{5, 0, 10, 10}, [4]int{20, 0, 30, 10}), 0.25, 0.25, 1, 1, Errors{Split: 1}},
		// The first square outlined twice as tall (IoU 0.5: no match), the
		// second exact: TP 1, FP 1, FN 1 at every threshold.
		{"loose", rects(40, 20, [4]int{0, 0, 10, 20}, [4]int{20, 0, 30, 10}), 1.0 / 3, 1.0 / 3, 2 * 200.0 / (200 + 300), 0, Errors{Loose: 1}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := Score(truth, c.pred)
			if math.Abs(s.Score-c.score) > 1e-12 || math.Abs(s.AP50-c.ap50) > 1e-12 || math.Abs(s.Dice-c.dice) > 1e-12 || s.CountError != c.count {
				t.Errorf("score %.6f AP50 %.6f Dice %.6f count error %d, want %.6f %.6f %.6f %d",
					s.Score, s.AP50, s.Dice, s.CountError, c.score, c.ap50, c.dice, c.count)
			}
			if s.Errors != c.errs {
				t.Errorf("errors %+v, want %+v", s.Errors, c.errs)
			}
		})
	}
}

func TestScoreEmptyAndSummary(t *testing.T) {
	empty := NewLabels(8, 8)
	if s := Score(empty, empty); s.Score != 1 || s.Dice != 1 {
		t.Errorf("two empty images: score %g, Dice %g, want 1", s.Score, s.Dice)
	}
	one := rects(8, 8, [4]int{0, 0, 4, 4})
	if s := Score(empty, one); s.Score != 0 || s.Dice != 0 {
		t.Errorf("objects where none are: score %g, Dice %g, want 0", s.Score, s.Dice)
	}
	// The summary is the mean over images, each weighing the same.
	sum := Summarize([]ImageScore{Score(one, one), Score(one, empty), {True: 4, Pred: 2, CountError: -2, Score: 0.5}})
	if sum.Errors != (Errors{Missed: 1}) {
		t.Errorf("summed errors %+v, want the one missed object", sum.Errors)
	}
	if math.Abs(sum.Score-0.5) > 1e-12 || sum.Images != 3 {
		t.Errorf("mean score %g over %d images, want 0.5 over 3", sum.Score, sum.Images)
	}
	if want := (0 + 1 + 2) / 3.0; math.Abs(sum.CountMAE-want) > 1e-12 {
		t.Errorf("count MAE %g, want %g", sum.CountMAE, want)
	}
	if want := (0 + 1 + 0.5) / 3.0; math.Abs(sum.CountMRE-want) > 1e-12 {
		t.Errorf("count MRE %g, want %g", sum.CountMRE, want)
	}
}
