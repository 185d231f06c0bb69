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
}

// Score compares predicted labels with the truth. Matching needs an IoU above
// 0.5, where a true object can match at most one predicted object,
// so no assignment problem arises. Two empty images score 1 everywhere; an
// empty truth with predictions scores 0.
func Score(truth, pred *Labels) ImageScore {
	if truth.W != pred.W || truth.H != pred.H {
		panic(fmt.Sprintf("segment: Score: truth %dx%d, prediction %dx%d", truth.W, truth.H, pred.W, pred.H))
	}
	type pair struct{ t, p int32 }
	areaT, areaP := map[int32]int{}, map[int32]int{}
	inter := map[pair]int{}
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
			inter[pair{t, p}]++
			fgBoth++
		}
	}
	s := ImageScore{True: len(areaT), Pred: len(areaP), CountError: len(areaP) - len(areaT)}
	ious := make([]float64, 0, len(inter))
	for k, n := range inter {
		ious = append(ious, float64(n)/float64(areaT[k.t]+areaP[k.p]-n))
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
	return s
}

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
