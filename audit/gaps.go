package audit

import (
	"math"
)

// judgedSet returns the groups whose rate is judged, by a predicate.
func judgedSet(groups []Group, ok func(Group) bool) []int {
	var set []int
	for g, grp := range groups {
		if ok(grp) {
			set = append(set, g)
		}
	}
	return set
}

// spread returns max-min and min/max of f over the groups in set, and the
// groups holding the minimum and the maximum. With fewer than two values
// (a rate undefined in a resample counts as missing) the gap and ratio are
// NaN. When every value is 0 the ratio is 1: the groups are equal.
func spread(confs [][]int, set []int, k, c int, f rate) (gap, ratio float64, lo, hi int) {
	lo, hi = -1, -1
	minV, maxV := math.Inf(1), math.Inf(-1)
	m := 0
	for _, g := range set {
		v, _ := f(confs[g], k, c)
		if math.IsNaN(v) {
			continue
		}
		m++
		if v < minV {
			minV, lo = v, g
		}
		if v >= maxV {
			maxV, hi = v, g
		}
	}
	if m < 2 {
		return nan, nan, lo, hi
	}
	ratio = 1
	if maxV > 0 {
		ratio = minV / maxV
	}
	return maxV - minV, ratio, lo, hi
}

// component is one rate entering a criterion with the groups judged on it.
type component struct {
	f   rate
	set []int
}

// ends is where a criterion's gap or ratio is read: the rate and the two
// groups at its extremes in the full data.
type ends struct {
	f      rate
	lo, hi int // -1 when fewer than two groups could be compared
}

// measure returns a criterion's gap and ratio for class c from the
// confusion counts of each group: the largest gap and the smallest ratio
// over its components, and where each was found.
func measure(confs [][]int, comps []component, k, c int) (gap, ratio float64, gapAt, ratioAt ends) {
	gap, ratio = nan, nan
	gapAt, ratioAt = ends{lo: -1, hi: -1}, ends{lo: -1, hi: -1}
	for _, cp := range comps {
		g, r, l, h := spread(confs, cp.set, k, c, cp.f)
		if math.IsNaN(g) {
			continue
		}
		if math.IsNaN(gap) || g > gap {
			gap, gapAt = g, ends{cp.f, l, h}
		}
		if math.IsNaN(ratio) || r < ratio {
			ratio, ratioAt = r, ends{cp.f, l, h}
		}
	}
	return gap, ratio, gapAt, ratioAt
}

// difference returns the rate of group e.hi minus that of group e.lo.
func (e ends) difference(confs [][]int, k, c int) float64 {
	hi, _ := e.f(confs[e.hi], k, c)
	lo, _ := e.f(confs[e.lo], k, c)
	return hi - lo
}

// quotient returns the rate of group e.lo over that of group e.hi (1 when
// both are 0).
func (e ends) quotient(confs [][]int, k, c int) float64 {
	hi, _ := e.f(confs[e.hi], k, c)
	lo, _ := e.f(confs[e.lo], k, c)
	if hi == 0 && lo == 0 {
		return 1
	}
	return lo / hi
}

// gaps measures every criterion between the judged groups. The interval
// of a gap is that of the difference between the two groups found at its
// ends in the full data, over the same resamples that gave the groups'
// rates: it reaches below zero when those groups do not truly differ,
// which the spread of each resample (never negative) would hide.
func gaps(groups []Group, cs *counts, boot [][][]int, cfg Config) []Gap {
	k := cs.k
	whole := judgedSet(groups, func(g Group) bool { return g.Judged })
	var out []Gap
	for _, crit := range Criteria {
		classes := k
		if crit == Accuracy {
			classes = 1
		}
		for c := range classes {
			var comps []component
			switch crit {
			case Accuracy:
				comps = []component{{accuracy, whole}}
			case DemographicParity:
				comps = []component{{selection, judgedSet(groups, func(g Group) bool { return g.Classes[c].SelectionJudged })}}
			case EqualOpportunity:
				comps = []component{{tpr, judgedSet(groups, func(g Group) bool { return g.Classes[c].TPRJudged })}}
			case EqualizedOdds:
				comps = []component{
					{tpr, judgedSet(groups, func(g Group) bool { return g.Classes[c].TPRJudged })},
					{fpr, judgedSet(groups, func(g Group) bool { return g.Classes[c].FPRJudged })}}
			}
			gp := Gap{Criterion: crit}
			if crit != Accuracy {
				gp.Class = groups[0].Classes[c].Name
			}
			for _, cp := range comps {
				gp.Groups = max(gp.Groups, len(cp.set))
			}
			gap, ratio, gapAt, ratioAt := measure(cs.conf, comps, k, c)
			gp.Gap, gp.Ratio = Estimate{gap, noInterval}, Estimate{ratio, noInterval}
			if gapAt.lo >= 0 {
				gp.Low, gp.High = groups[gapAt.lo].Name, groups[gapAt.hi].Name
			}
			if len(boot) > 0 && !math.IsNaN(gap) {
				gv := make([]float64, 0, len(boot))
				rv := make([]float64, 0, len(boot))
				for _, b := range boot {
					gv = append(gv, gapAt.difference(b, k, c))
					rv = append(rv, ratioAt.quotient(b, k, c))
				}
				gp.Gap.CI, gp.Ratio.CI = percentile(gv, cfg.Level), percentile(rv, cfg.Level)
			}
			gp.Verdict = judge(gp, cfg)
			out = append(out, gp)
		}
	}
	return out
}

// judge gives one gap's verdict against the limits of its criterion.
func judge(gp Gap, cfg Config) Verdict {
	maxGap, hasGap := cfg.Limits.MaxGap[gp.Criterion]
	minRatio, hasRatio := cfg.Limits.MinRatio[gp.Criterion]
	switch {
	case !hasGap && !hasRatio:
		return NotChecked
	case math.IsNaN(gp.Gap.Value):
		return Inconclusive
	}
	gap, ratio := gp.Gap.Value, gp.Ratio.Value
	if cfg.Significant {
		if gp.Gap.CI.Valid() {
			gap = gp.Gap.CI.Lo()
		}
		if gp.Ratio.CI.Valid() {
			ratio = gp.Ratio.CI.Hi()
		}
	}
	if (hasGap && gap > maxGap) || (hasRatio && ratio < minRatio) {
		return Fail
	}
	return Pass
}
