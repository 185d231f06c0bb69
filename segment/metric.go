package segment

import (
	"fmt"
	"math"
)

// Thresholds are the IoU thresholds of the 2018 Data Science Bowl's
// metric: 0.50, 0.55, ..., 0.95.
var Thresholds = func() (t [10]float64) {
	for i := range t {
		t[i] = float64(10+i) / 20
	}
	return
}()

// ImageScore compares one image's predicted objects with the true ones.
type ImageScore struct {
	Name string `json:"name"`
	True int    `json:"true_objects"`
	Pred int    `json:"predicted_objects"`
	// Score is the Data Science Bowl's: the mean over Thresholds of
	// TP / (TP + FP + FN), where a predicted object and a true one match
	// when their IoU exceeds the threshold.
	Score        float64     `json:"score"`
	PerThreshold [10]float64 `json:"per_threshold"`
	// AP50 is TP / (TP + FP + FN) at IoU 0.5 alone (what the Data Science
	// Bowl called average precision at one threshold); Precision50 and
	// Recall50 are TP / (TP + FP) and TP / (TP + FN) there.
	AP50        float64 `json:"ap50"`
	Precision50 float64 `json:"precision50"`
	Recall50    float64 `json:"recall50"`
	// Dice is 2|T ∩ P| / (|T| + |P|) of the foreground (all objects
	// together), ignoring how it is split into objects.
	Dice float64 `json:"dice"`
	// CountError is predicted minus true objects.
	CountError int `json:"count_error"`
	// Errors says what went wrong with the objects unmatched at IoU 0.5.
	Errors Errors `json:"errors"`
}

// Errors sorts the errors at IoU 0.5 by kind, so that a reader can tell
// touching nuclei run together from nuclei not seen at all. Each true
// object left unmatched is of exactly one of the first four kinds; of the
// unmatched predictions only the spurious ones are counted, the others
// being the fragments, merges and loose outlines already counted.
type Errors struct {
	// Missed: true objects less than half covered by predictions.
	Missed int `json:"missed"`
	// Merged: true objects whose main prediction (the one that covers
	// most of them) also covers more than half of another true object.
	Merged int `json:"merged"`
	// Split: true objects of which two or more predictions each cover a
	// fifth or more.
	Split int `json:"split"`
	// Loose: the other unmatched true objects, found but outlined too far
	// off for IoU 0.5.
	Loose int `json:"loose"`
	// Spurious: predictions with less than half of their pixels on true
	// objects (debris, background, unlabelled nuclei).
	Spurious int `json:"spurious"`
}

// String lists the counts: "3 missed, 5 merged, 0 split, 1 loose, 2 spurious".
func (e Errors) String() string {
	return fmt.Sprintf("%d missed, %d merged, %d split, %d loose, %d spurious", e.Missed, e.Merged, e.Split, e.Loose, e.Spurious)
}

// add adds e's counts to s's.
func (s *Errors) add(e Errors) {
	s.Missed += e.Missed
	s.Merged += e.Merged
	s.Split += e.Split
	s.Loose += e.Loose
	s.Spurious += e.Spurious
}

// errorKinds sorts the errors at IoU 0.5 (see Errors), from the objects'
// areas and their pairwise intersections.
func errorKinds(areaT, areaP map[int32]int, inter map[[2]int32]int) Errors {
	type best struct {
		p int32
		n int
	}
	matchedT, matchedP := map[int32]bool{}, map[int32]bool{}
	coveredT, onTrueP := map[int32]int{}, map[int32]int{}
	main := map[int32]best{}      // the prediction covering most of each true object
	fifths := map[int32]int{}     // predictions covering a fifth or more of each true object
	halves := map[int32][]int32{} // true objects each prediction covers more than half of
	for k, n := range inter {
		t, p := k[0], k[1]
		if iou(n, areaT[t], areaP[p]) > 0.5 {
			matchedT[t], matchedP[p] = true, true
		}
		coveredT[t] += n
		onTrueP[p] += n
		if b := main[t]; n > b.n || (n == b.n && p < b.p) {
			main[t] = best{p, n}
		}
		if 5*n >= areaT[t] {
			fifths[t]++
		}
		if 2*n > areaT[t] {
			halves[p] = append(halves[p], t)
		}
	}
	var e Errors
	for t, a := range areaT {
		if matchedT[t] {
			continue
		}
		merged := false
		for _, o := range halves[main[t].p] {
			merged = merged || o != t
		}
		switch {
		case 2*coveredT[t] < a:
			e.Missed++
		case merged:
			e.Merged++
		case fifths[t] >= 2:
			e.Split++
		default:
			e.Loose++
		}
	}
	for p, a := range areaP {
		if !matchedP[p] && 2*onTrueP[p] < a {
			e.Spurious++
		}
	}
	return e
}

// Score compares predicted labels with the truth. Matching needs an IoU above
// 0.5, where a true object can match at most one predicted object,
// so no assignment problem arises. Two empty images score 1 everywhere; an
// empty truth with predictions scores 0.
func Score(truth, pred *Labels) ImageScore {
	if truth.W != pred.W || truth.H != pred.H {
		panic(fmt.Sprintf("segment: Score: truth %dx%d, prediction %dx%d", truth.W, truth.H, pred.W, pred.H))
	}
	areaT, areaP := map[int32]int{}, map[int32]int{}
	inter := map[[2]int32]int{} // pixels of (true, predicted) objects in common
	fgT, fgP, fgBoth := 0, 0, 0
	for i, t := range truth.Pix {
		p := pred.Pix[i]
		if t != 0 {
			areaT[t]++
			fgT++
		}
		if p != 0 {
			areaP[p]++
			fgP++
		}
		if t != 0 && p != 0 {
			inter[[2]int32{t, p}]++
			fgBoth++
		}
	}
	s := ImageScore{True: len(areaT), Pred: len(areaP), CountError: len(areaP) - len(areaT)}
	ious := make([]float64, 0, len(inter))
	for k, n := range inter {
		ious = append(ious, iou(n, areaT[k[0]], areaP[k[1]]))
	}
	for i, th := range Thresholds {
		tp := 0
		for _, v := range ious {
			if v > th {
				tp++
			}
		}
		fp, fn := s.Pred-tp, s.True-tp
		s.PerThreshold[i] = ratio(tp, tp+fp+fn)
		if i == 0 {
			s.AP50 = s.PerThreshold[0]
			s.Precision50, s.Recall50 = ratio(tp, tp+fp), ratio(tp, tp+fn)
		}
		s.Score += s.PerThreshold[i]
	}
	s.Score /= float64(len(Thresholds))
	s.Dice = ratio(2*fgBoth, fgT+fgP)
	s.Errors = errorKinds(areaT, areaP, inter)
	return s
}

// iou returns the intersection over union of two objects of areas a and b
// that have n pixels in common.
func iou(n, a, b int) float64 { return float64(n) / float64(a+b-n) }

// ratio returns a/b, and 1 for 0/0 (nothing to find, nothing found).
func ratio(a, b int) float64 {
	if b == 0 {
		return 1
	}
	return float64(a) / float64(b)
}

// Summary is the mean of ImageScores over a set of images, each image
// weighing the same, as the Data Science Bowl averaged.
type Summary struct {
	Images       int         `json:"images"`
	Score        float64     `json:"score"`
	PerThreshold [10]float64 `json:"per_threshold"`
	AP50         float64     `json:"ap50"`
	Precision50  float64     `json:"precision50"`
	Recall50     float64     `json:"recall50"`
	Dice         float64     `json:"dice"`
	// CountMAE is the mean absolute count error; CountMRE the mean of
	// |predicted - true| / true over images with objects.
	CountMAE    float64 `json:"count_mae"`
	CountMRE    float64 `json:"count_mre"`
	TrueObjects int     `json:"true_objects"`
	PredObjects int     `json:"predicted_objects"`
	// Errors adds up the images' errors at IoU 0.5, by kind.
	Errors Errors `json:"errors"`
}

// Summarize averages scores over images.
func Summarize(scores []ImageScore) Summary {
	var s Summary
	counted := 0 // images with objects, for CountMRE
	for _, sc := range scores {
		s.Images++
		s.Score += sc.Score
		for i, v := range sc.PerThreshold {
			s.PerThreshold[i] += v
		}
		s.AP50 += sc.AP50
		s.Precision50 += sc.Precision50
		s.Recall50 += sc.Recall50
		s.Dice += sc.Dice
		s.CountMAE += math.Abs(float64(sc.CountError))
		if sc.True > 0 {
			s.CountMRE += math.Abs(float64(sc.CountError)) / float64(sc.True)
			counted++
		}
		s.TrueObjects += sc.True
		s.PredObjects += sc.Pred
		s.Errors.add(sc.Errors)
	}
	if s.Images == 0 {
		return s
	}
	n := float64(s.Images)
	s.Score /= n
	for i := range s.PerThreshold {
		s.PerThreshold[i] /= n
	}
	s.AP50 /= n
	s.Precision50 /= n
	s.Recall50 /= n
	s.Dice /= n
	s.CountMAE /= n
	if counted > 0 {
		s.CountMRE /= float64(counted)
	}
	return s
}
