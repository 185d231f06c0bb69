package metrics

import (
	"math"
	"slices"
)

// rankOrder is one score column sorted once, ascending, with its tie groups,
// so that the ROC AUC under any sample weights costs one pass.
type rankOrder struct {
	idx   []int32 // sample indices, ascending by score
	pos   []bool  // pos[j]: sample idx[j] is a positive
	ends  []int32 // ends[g]: one past the last position of tie group g
	score []float64
}

func newRankOrder(score []float64, positive func(i int) bool) *rankOrder {
	n := len(score)
	r := &rankOrder{idx: make([]int32, n), pos: make([]bool, n), score: score}
	for i := range r.idx {
		r.idx[i] = int32(i)
	}
	slices.SortStableFunc(r.idx, func(a, b int32) int {
		switch {
		case score[a] < score[b]:
			return -1
		case score[a] > score[b]:
			return 1
		}
		return 0
	})
	for j, i := range r.idx {
		r.pos[j] = positive(int(i))
		if j+1 == n || score[r.idx[j+1]] != score[i] {
			r.ends = append(r.ends, int32(j+1))
		}
	}
	return r
}

// auc returns the weighted Mann-Whitney estimate of P(score of a positive >
// score of a negative) + P(tie)/2, the area under the ROC curve; NaN when
// the positives or the negatives have zero total weight. w nil means weight
// 1 for every sample.
func (r *rankOrder) auc(w []float64) float64 {
	var negBelow, area, P, N float64
	start := int32(0)
	for _, end := range r.ends {
		var p, q float64
		for j := start; j < end; j++ {
			wt := 1.0
			if w != nil {
				wt = w[r.idx[j]]
			}
			if r.pos[j] {
				p += wt
			} else {
				q += wt
			}
		}
		area += p * (negBelow + 0.5*q)
		negBelow += q
		P += p
		N += q
		start = end
	}
	if P == 0 || N == 0 {
		return math.NaN()
	}
	return area / (P * N)
}

// roc returns the ROC curve, one point per distinct score from the highest
// down, with collinear points dropped and the rest thinned to at most about
// maxPoints by arc length (maxPoints < 2 keeps every corner).
func (r *rankOrder) roc(maxPoints int) ROC {
	var P, N float64
	for _, p := range r.pos {
		if p {
			P++
		} else {
			N++
		}
	}
	c := ROC{FPR: []float64{0}, TPR: []float64{0}, Threshold: []float64{math.Inf(1)}}
	if P == 0 || N == 0 {
		return ROC{}
	}
	var tp, fp float64
	end := int32(len(r.idx))
	for g := len(r.ends) - 1; g >= 0; g-- {
		start := int32(0)
		if g > 0 {
			start = r.ends[g-1]
		}
		for j := start; j < end; j++ {
			if r.pos[j] {
				tp++
			} else {
				fp++
			}
		}
		c.FPR = append(c.FPR, fp/N)
		c.TPR = append(c.TPR, tp/P)
		c.Threshold = append(c.Threshold, r.score[r.idx[start]])
		end = start
	}
	c = dropCollinear(c)
	if maxPoints >= 2 && len(c.FPR) > maxPoints {
		c = thin(c, maxPoints)
	}
	return c
}

// dropCollinear removes interior points that lie on a straight horizontal
// or vertical run, which do not change the drawn curve.
func dropCollinear(c ROC) ROC {
	n := len(c.FPR)
	if n <= 2 {
		return c
	}
	out := ROC{FPR: c.FPR[:1], TPR: c.TPR[:1], Threshold: c.Threshold[:1]}
	for i := 1; i < n-1; i++ {
		flat := c.TPR[i-1] == c.TPR[i] && c.TPR[i] == c.TPR[i+1]
		vert := c.FPR[i-1] == c.FPR[i] && c.FPR[i] == c.FPR[i+1]
		if flat || vert {
			continue
		}
		out.FPR = append(out.FPR, c.FPR[i])
		out.TPR = append(out.TPR, c.TPR[i])
		out.Threshold = append(out.Threshold, c.Threshold[i])
	}
	out.FPR = append(out.FPR, c.FPR[n-1])
	out.TPR = append(out.TPR, c.TPR[n-1])
	out.Threshold = append(out.Threshold, c.Threshold[n-1])
	return out
}

// thin keeps the first and last points and, between them, a point each
// time the path has run on by another 1/(maxPoints-1) of its length.
func thin(c ROC, maxPoints int) ROC {
	n := len(c.FPR)
	var total float64
	for i := 1; i < n; i++ {
		total += math.Hypot(c.FPR[i]-c.FPR[i-1], c.TPR[i]-c.TPR[i-1])
	}
	step := total / float64(maxPoints-1)
	out := ROC{FPR: []float64{c.FPR[0]}, TPR: []float64{c.TPR[0]}, Threshold: []float64{c.Threshold[0]}}
	var run float64
	for i := 1; i < n-1; i++ {
		run += math.Hypot(c.FPR[i]-c.FPR[i-1], c.TPR[i]-c.TPR[i-1])
		if run >= step {
			out.FPR = append(out.FPR, c.FPR[i])
			out.TPR = append(out.TPR, c.TPR[i])
			out.Threshold = append(out.Threshold, c.Threshold[i])
			run = 0
		}
	}
	out.FPR = append(out.FPR, c.FPR[n-1])
	out.TPR = append(out.TPR, c.TPR[n-1])
	out.Threshold = append(out.Threshold, c.Threshold[n-1])
	return out
}
