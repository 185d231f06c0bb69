package audit

import (
	"fmt"
	"math"
	"slices"
	"sort"

	"github.com/deepscope/deepscope/metrics"
)

// Criterion names a group-fairness measure; see the package documentation.
type Criterion string

// The criteria an audit measures, in the order reports list them.
const (
	Accuracy          Criterion = "accuracy"
	DemographicParity Criterion = "demographic_parity"
	EqualOpportunity  Criterion = "equal_opportunity"
	EqualizedOdds     Criterion = "equalized_odds"
)

// Criteria lists every criterion, in report order.
var Criteria = []Criterion{Accuracy, DemographicParity, EqualOpportunity, EqualizedOdds}

// Data is what an audit looks at: the true class and the predicted
// probabilities of each image, and the groups each image belongs to.
type Data struct {
	Labels  []int       // true class per image, indexing Classes
	Probs   [][]float64 // predicted probabilities per image, one per class
	Classes []string
	Columns []Column // one audit per column
}

// Column is one way of grouping the images: Values[i] is image i's group.
type Column struct {
	Name   string
	Values []string
}

// Config controls Run. The zero value asks for 1000 resamples, 95%
// intervals, groups of at least 30 images, rates backed by at least 10
// images with intervals at most 0.5 wide, and no limits.
type Config struct {
	Limits          Limits
	MinSupport      int     // smaller groups are not judged; 0 means 30
	MinClassSupport int     // a per-class rate needs this many images behind it; 0 means 10
	MaxWidth        float64 // a per-class rate with a wider interval is not judged; 0 means 0.5
	// Significant fails a gap only when its whole interval lies past the
	// limit, rather than when its point estimate does.
	Significant bool
	Resamples   int     // bootstrap resamples; 0 means 1000, negative none
	Level       float64 // interval level; 0 means 0.95
	Seed        uint64
}

func (c Config) withDefaults() Config {
	if c.MinSupport == 0 {
		c.MinSupport = 30
	}
	if c.MinClassSupport == 0 {
		c.MinClassSupport = 10
	}
	if c.MaxWidth == 0 {
		c.MaxWidth = 0.5
	}
	if c.Resamples == 0 {
		c.Resamples = 1000
	}
	if c.Resamples < 0 {
		c.Resamples = 0
	}
	if c.Level == 0 {
		c.Level = 0.95
	}
	return c
}

// Run audits predictions by every column of d. It returns an error for
// input a caller can get wrong: rows of the wrong length, labels out of
// range, a column whose length differs from the number of images.
func Run(d Data, cfg Config) (*Report, error) {
	cfg = cfg.withDefaults()
	k := len(d.Classes)
	n := len(d.Labels)
	switch {
	case n == 0:
		return nil, fmt.Errorf("audit: no images")
	case k < 2:
		return nil, fmt.Errorf("audit: %d classes; need at least 2", k)
	case len(d.Probs) != n:
		return nil, fmt.Errorf("audit: %d labels but %d rows of probabilities", n, len(d.Probs))
	case len(d.Columns) == 0:
		return nil, fmt.Errorf("audit: no column to group by")
	case cfg.Level <= 0 || cfg.Level >= 1:
		return nil, fmt.Errorf("audit: interval level %g: want a value in (0, 1)", cfg.Level)
	}
	if err := cfg.Limits.Validate(); err != nil {
		return nil, err
	}
	pred := make([]int, n)
	for i, row := range d.Probs {
		if len(row) != k {
			return nil, fmt.Errorf("audit: image %d: %d probabilities for %d classes", i, len(row), k)
		}
		if d.Labels[i] < 0 || d.Labels[i] >= k {
			return nil, fmt.Errorf("audit: image %d: label %d out of range [0, %d)", i, d.Labels[i], k)
		}
		pred[i] = argmax(row)
	}
	r := &Report{Classes: d.Classes, N: n, Limits: cfg.Limits, Resamples: cfg.Resamples, Level: cfg.Level,
		Seed: cfg.Seed, MinSupport: cfg.MinSupport, MinClassSupport: cfg.MinClassSupport, MaxWidth: cfg.MaxWidth,
		Significant: cfg.Significant, Verdict: NotChecked}
	for _, col := range d.Columns {
		if len(col.Values) != n {
			return nil, fmt.Errorf("audit: column %q has %d values for %d images", col.Name, len(col.Values), n)
		}
		a, err := auditColumn(d, col, pred, cfg)
		if err != nil {
			return nil, err
		}
		r.Attributes = append(r.Attributes, *a)
		r.Verdict = worse(r.Verdict, a.Verdict)
	}
	return r, nil
}

// auditColumn audits one grouping.
func auditColumn(d Data, col Column, pred []int, cfg Config) (*Attribute, error) {
	k := len(d.Classes)
	index := map[string]int{}
	var names []string
	for _, v := range col.Values {
		if _, ok := index[v]; !ok {
			index[v] = len(names)
			names = append(names, v)
		}
	}
	sort.Strings(names)
	for i, v := range names {
		index[v] = i
	}
	members := make([][]int, len(names))
	for i, v := range col.Values {
		g := index[v]
		members[g] = append(members[g], i)
	}
	cs := newCounts(d.Labels, pred, members, k)
	boot := cs.bootstrap(cfg.Resamples, cfg.Seed)

	a := &Attribute{Name: col.Name}
	for g, name := range names {
		grp, err := groupResult(d, name, members[g], cs.conf[g], boot, g, cfg)
		if err != nil {
			return nil, fmt.Errorf("audit: column %q, group %q: %w", col.Name, name, err)
		}
		a.Groups = append(a.Groups, grp)
	}
	a.Gaps = gaps(a.Groups, cs, boot, cfg)
	a.ClassMix = classMix(a.Groups)
	a.Verdict = NotChecked
	for _, c := range Criteria {
		a.Verdict = worse(a.Verdict, a.CriterionVerdict(c))
	}
	return a, nil
}

// groupResult measures one group: metrics.Evaluate for accuracy, AUC and
// ECE, and the bootstrapped confusion counts for the per-class rates.
func groupResult(d Data, name string, idx []int, conf []int, boot [][][]int, g int, cfg Config) (Group, error) {
	k := len(d.Classes)
	grp := Group{Name: name, Support: len(idx), Judged: len(idx) >= cfg.MinSupport}
	if !grp.Judged {
		grp.Note = fmt.Sprintf("too small: %d images, fewer than %d", len(idx), cfg.MinSupport)
	}
	labels := make([]int, len(idx))
	probs := make([][]float64, len(idx))
	for j, i := range idx {
		labels[j], probs[j] = d.Labels[i], d.Probs[i]
	}
	resamples := cfg.Resamples
	if resamples == 0 {
		resamples = -1 // metrics' "none"
	}
	res, err := metrics.Evaluate(labels, probs, d.Classes, metrics.Options{Resamples: resamples,
		Seed: cfg.Seed, Level: cfg.Level, ROCPoints: -1})
	if err != nil {
		return grp, err
	}
	grp.Accuracy = Estimate{res.Accuracy, res.AccuracyCI}
	grp.AUC = Estimate{res.AUC, res.AUCCI}
	grp.ECE = Estimate{res.ECE, res.ECECI}
	for c := range k {
		pos := rowSum(conf, k, c)
		gc := GroupClass{Name: d.Classes[c], Positives: pos, Predicted: colSum(conf, k, c)}
		gc.Selection = rateEstimate(conf, boot, g, k, c, selection, cfg)
		gc.TPR = rateEstimate(conf, boot, g, k, c, tpr, cfg)
		gc.FPR = rateEstimate(conf, boot, g, k, c, fpr, cfg)
		gc.SelectionJudged = grp.Judged
		gc.TPRJudged = grp.Judged && pos >= cfg.MinClassSupport && narrow(gc.TPR.CI, cfg.MaxWidth)
		gc.FPRJudged = grp.Judged && len(idx)-pos >= cfg.MinClassSupport && narrow(gc.FPR.CI, cfg.MaxWidth)
		grp.Classes = append(grp.Classes, gc)
	}
	return grp, nil
}

// narrow reports whether an interval is at most w wide; an interval that
// was not computed (no resamples) counts as narrow.
func narrow(iv metrics.Interval, w float64) bool {
	return !iv.Valid() || iv.Hi()-iv.Lo() <= w
}

func argmax(row []float64) int {
	best := 0
	for j, p := range row {
		if p > row[best] {
			best = j
		}
	}
	return best
}

// worse returns the worse of two verdicts: fail, then inconclusive, then
// pass, then not checked.
func worse(a, b Verdict) Verdict {
	rank := func(v Verdict) int { return slices.Index([]Verdict{NotChecked, Pass, Inconclusive, Fail}, v) }
	if rank(b) > rank(a) {
		return b
	}
	return a
}

var nan = math.NaN()
