package audit

import (
	"encoding/json"
	"math"

	"github.com/deepscope/deepscope/metrics"
)

// Verdict is the outcome of a check.
type Verdict string

// Verdicts, from best to worst. Only Pass lets a gated pipeline go on.
const (
	NotChecked   Verdict = "not checked"  // no limit was set for the criterion
	Pass         Verdict = "pass"         // within the limits
	Inconclusive Verdict = "inconclusive" // a limit was set but no two groups could be judged
	Fail         Verdict = "fail"         // a gap past its limit
)

// Estimate is a measured value with its bootstrap interval. Its JSON form
// is {"value": v, "ci": [lo, hi]}, with null for undefined numbers.
type Estimate struct {
	Value float64
	CI    metrics.Interval
}

// MarshalJSON writes {"value": v, "ci": [lo, hi]}.
func (e Estimate) MarshalJSON() ([]byte, error) {
	var v *float64
	if !math.IsNaN(e.Value) && !math.IsInf(e.Value, 0) {
		v = &e.Value
	}
	return json.Marshal(struct {
		Value *float64         `json:"value"`
		CI    metrics.Interval `json:"ci"`
	}{v, e.CI})
}

// UnmarshalJSON reads what MarshalJSON wrote; null becomes NaN.
func (e *Estimate) UnmarshalJSON(b []byte) error {
	var s struct {
		Value *float64         `json:"value"`
		CI    metrics.Interval `json:"ci"`
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	e.Value, e.CI = math.NaN(), s.CI
	if s.Value != nil {
		e.Value = *s.Value
	}
	return nil
}

// Report is the result of an audit.
type Report struct {
	Classes         []string    `json:"classes"`
	N               int         `json:"n"` // images audited
	Attributes      []Attribute `json:"attributes"`
	Verdict         Verdict     `json:"verdict"` // the worst verdict of any attribute; "not checked" without limits
	Limits          Limits      `json:"limits"`
	Significant     bool        `json:"significant"` // gaps judged by their intervals
	MinSupport      int         `json:"min_support"`
	MinClassSupport int         `json:"min_class_support"`
	MaxWidth        float64     `json:"max_width"`
	Resamples       int         `json:"resamples"`
	Level           float64     `json:"level"`
	Seed            uint64      `json:"seed"`
}

// Attribute is the audit of one grouping (one manifest column, or the
// combination of several).
type Attribute struct {
	Name    string  `json:"name"`
	Groups  []Group `json:"groups"` // sorted by name
	Gaps    []Gap   `json:"gaps"`   // per criterion, then per class
	Verdict Verdict `json:"verdict"`
	// ClassMix is the largest total variation distance between the class
	// distributions of two judged groups (0: the same mix of classes).
	// Above ClassMixNote, a demographic parity gap reflects the
	// prevalence of the classes as well as the model.
	ClassMix float64 `json:"class_mix_distance"`
}

// ClassMixNote is the class-mix distance above which reports warn that
// demographic parity compares groups with different class prevalences.
const ClassMixNote = 0.05

// classMix returns the largest total variation distance between the class
// distributions of the judged groups.
func classMix(groups []Group) float64 {
	var worst float64
	for i, a := range groups {
		for _, b := range groups[i+1:] {
			if !a.Judged || !b.Judged {
				continue
			}
			var tv float64
			for c := range a.Classes {
				tv += math.Abs(float64(a.Classes[c].Positives)/float64(a.Support) - float64(b.Classes[c].Positives)/float64(b.Support))
			}
			worst = math.Max(worst, tv/2)
		}
	}
	return worst
}

// Group holds the measures of one group.
type Group struct {
	Name     string       `json:"name"`
	Support  int          `json:"support"`
	Judged   bool         `json:"judged"`         // large enough to enter the gaps
	Note     string       `json:"note,omitempty"` // why not judged
	Accuracy Estimate     `json:"accuracy"`
	AUC      Estimate     `json:"auc"` // macro one-vs-rest
	ECE      Estimate     `json:"ece"`
	Classes  []GroupClass `json:"classes"`
}

// GroupClass holds the one-vs-rest rates of one class within a group. A
// rate enters the gaps only when its Judged flag is set.
type GroupClass struct {
	Name            string   `json:"class"`
	Positives       int      `json:"positives"` // images of this class in the group
	Predicted       int      `json:"predicted"` // images of the group predicted as this class
	Selection       Estimate `json:"selection_rate"`
	TPR             Estimate `json:"tpr"`
	FPR             Estimate `json:"fpr"`
	SelectionJudged bool     `json:"selection_judged"`
	TPRJudged       bool     `json:"tpr_judged"`
	FPRJudged       bool     `json:"fpr_judged"`
}

// Gap is the disparity of one criterion (and class) between the judged
// groups of an attribute.
type Gap struct {
	Criterion Criterion `json:"criterion"`
	Class     string    `json:"class,omitempty"` // "" for accuracy
	Groups    int       `json:"groups"`          // judged groups compared
	Gap       Estimate  `json:"gap"`             // largest minus smallest value
	Ratio     Estimate  `json:"ratio"`           // smallest over largest value
	Low       string    `json:"low,omitempty"`   // group with the smallest value
	High      string    `json:"high,omitempty"`  // group with the largest value
	Verdict   Verdict   `json:"verdict"`
}

// Worst returns the gap of criterion c that decides its verdict: the
// failing gap with the largest point estimate, else the largest gap. It
// returns nil when the attribute has no gap of c that could be measured.
func (a *Attribute) Worst(c Criterion) *Gap {
	var w *Gap
	for i := range a.Gaps {
		g := &a.Gaps[i]
		if g.Criterion != c || math.IsNaN(g.Gap.Value) {
			continue
		}
		if w == nil || worseGap(g, w) {
			w = g
		}
	}
	return w
}

// worseGap reports whether g decides a verdict before w: a failing gap
// before a passing one, then the larger gap.
func worseGap(g, w *Gap) bool {
	if gf, wf := g.Verdict == Fail, w.Verdict == Fail; gf != wf {
		return gf
	}
	return g.Gap.Value > w.Gap.Value
}

// CriterionVerdict returns the verdict of criterion c for the attribute:
// fail if any class's gap fails, inconclusive if a limit was set but no
// class could be judged, not checked without a limit, else pass.
func (a *Attribute) CriterionVerdict(c Criterion) Verdict {
	v := NotChecked
	for _, g := range a.Gaps {
		if g.Criterion == c && g.Verdict != NotChecked {
			if v == NotChecked {
				v = Pass
			}
			v = worse(v, g.Verdict)
		}
	}
	if v == Inconclusive {
		// Some classes could not be judged; the criterion is still decided
		// if others were and one of them failed or all of them passed.
		anyJudged := false
		for _, g := range a.Gaps {
			anyJudged = anyJudged || g.Criterion == c && (g.Verdict == Pass || g.Verdict == Fail)
		}
		if anyJudged {
			v = Pass
		}
	}
	return v
}
