package audit

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"text/tabwriter"
)

// criterionTitle is how tables name a criterion.
var criterionTitle = map[Criterion]string{
	Accuracy:          "accuracy",
	DemographicParity: "demographic parity",
	EqualOpportunity:  "equal opportunity",
	EqualizedOdds:     "equalized odds",
}

// fmtNum writes a number with four decimals, or "-" when undefined.
func fmtNum(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "-"
	}
	return fmt.Sprintf("%.4f", v)
}

// fmtEst writes "v [lo, hi]", leaving out an interval not computed.
func fmtEst(e Estimate) string {
	if math.IsNaN(e.Value) {
		return "-"
	}
	if !e.CI.Valid() {
		return fmtNum(e.Value)
	}
	return fmt.Sprintf("%.3f [%.3f, %.3f]", e.Value, e.CI.Lo(), e.CI.Hi())
}

// String describes the limits in one line.
func (l Limits) String() string {
	if l.Empty() {
		return "none (gaps are measured, not checked)"
	}
	var parts []string
	for _, c := range Criteria {
		if v, ok := l.MaxGap[c]; ok {
			parts = append(parts, fmt.Sprintf("%s gap <= %g", criterionTitle[c], v))
		}
		if v, ok := l.MinRatio[c]; ok {
			parts = append(parts, fmt.Sprintf("%s ratio >= %g", criterionTitle[c], v))
		}
	}
	return strings.Join(parts, ", ")
}

// WriteText writes the report as plain-text tables: per attribute, the
// groups' accuracy, AUC and ECE, the per-class true and false positive
// rates, and the gap of each criterion with its verdict.
func (r *Report) WriteText(w io.Writer) error {
	ew := &errWriter{w: w}
	ew.printf("audit of %d images, %d classes; %s\n", r.N, len(r.Classes), r.intervalsText())
	ew.printf("limits: %s\n", r.Limits)
	ew.printf("a group needs %d images to be judged; a per-class rate %d images and an interval at most %g wide (* marks rates not judged)\n",
		r.MinSupport, r.MinClassSupport, r.MaxWidth)
	for i := range r.Attributes {
		a := &r.Attributes[i]
		ew.printf("\n%s: %d groups\n", a.Name, len(a.Groups))
		tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  group\tn\taccuracy\tAUC\tECE\t")
		for _, g := range a.Groups {
			note := ""
			if !g.Judged {
				note = "  " + g.Note
			}
			fmt.Fprintf(tw, "  %s\t%d\t%s\t%s\t%s\t%s\n", g.Name, g.Support, fmtEst(g.Accuracy), fmtEst(g.AUC), fmtEst(g.ECE), note)
		}
		tw.Flush()
		for _, rate := range []struct {
			title string
			get   func(GroupClass) (Estimate, bool)
		}{
			{"true positive rate (recall) per class", func(c GroupClass) (Estimate, bool) { return c.TPR, c.TPRJudged }},
			{"false positive rate per class", func(c GroupClass) (Estimate, bool) { return c.FPR, c.FPRJudged }},
		} {
			ew.printf("  %s\n", rate.title)
			tw = tabwriter.NewWriter(ew, 0, 0, 2, ' ', 0)
			fmt.Fprint(tw, "  class\t")
			for _, g := range a.Groups {
				fmt.Fprintf(tw, "%s\t", g.Name)
			}
			fmt.Fprintln(tw)
			for c, name := range r.Classes {
				fmt.Fprintf(tw, "  %s\t", name)
				for _, g := range a.Groups {
					e, judged := rate.get(g.Classes[c])
					mark := ""
					if !judged {
						mark = "*"
					}
					fmt.Fprintf(tw, "%s%s\t", fmtEst(e), mark)
				}
				fmt.Fprintln(tw)
			}
			tw.Flush()
		}
		ew.printf("  gaps between groups (the worst class of each criterion)\n")
		tw = tabwriter.NewWriter(ew, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  criterion\tclass\tgap [95% CI]\tratio\tlowest / highest\tverdict\t")
		for _, row := range a.gapRows() {
			fmt.Fprintf(tw, "  %s\t\n", strings.Join(row, "\t"))
		}
		tw.Flush()
		if note := a.classMixNote(); note != "" {
			ew.printf("  note: %s\n", note)
		}
		ew.printf("  %s: %s\n", a.Name, strings.ToUpper(string(a.Verdict)))
	}
	ew.printf("\nverdict: %s\n", strings.ToUpper(string(r.Verdict)))
	return ew.err
}

func (r *Report) intervalsText() string {
	if r.Resamples == 0 {
		return "no intervals"
	}
	return fmt.Sprintf("%g%% bootstrap intervals from %d resamples within each group (seed %d)", 100*r.Level, r.Resamples, r.Seed)
}

// gapRows returns, per criterion, the cells of a summary row: its worst
// gap with interval, ratio, the groups at either end and the verdict.
func (a *Attribute) gapRows() [][]string {
	var rows [][]string
	for _, c := range Criteria {
		v := a.CriterionVerdict(c)
		g := a.Worst(c)
		if g == nil {
			rows = append(rows, []string{criterionTitle[c], "-", "fewer than 2 judged groups", "-", "-", string(v)})
			continue
		}
		class := g.Class
		if class == "" {
			class = "(all)"
		}
		gap := fmtNum(g.Gap.Value)
		if g.Gap.CI.Valid() {
			gap = fmt.Sprintf("%.4f [%.4f, %.4f]", g.Gap.Value, g.Gap.CI.Lo(), g.Gap.CI.Hi())
		}
		rows = append(rows, []string{criterionTitle[c], class, gap, fmtNum(g.Ratio.Value), g.Low + " / " + g.High, string(v)})
	}
	return rows
}

// classMixNote warns when the groups' class mixes differ enough to make
// demographic parity a comparison of prevalences; "" otherwise.
func (a *Attribute) classMixNote() string {
	if a.ClassMix <= ClassMixNote {
		return ""
	}
	return fmt.Sprintf("the groups' class mixes differ (total variation %.3f), so demographic parity gaps reflect how common each class is in each group, not only the model", a.ClassMix)
}

// Failures lists, for messages, each failing criterion of each attribute
// with its worst gap, sorted.
func (r *Report) Failures() []string {
	var out []string
	for i := range r.Attributes {
		a := &r.Attributes[i]
		for _, c := range Criteria {
			switch a.CriterionVerdict(c) {
			case Fail:
				g := a.Worst(c)
				what := criterionTitle[c]
				if g.Class != "" {
					what += " (" + g.Class + ")"
				}
				out = append(out, fmt.Sprintf("%s: %s gap %.4f between %s and %s", a.Name, what, g.Gap.Value, g.Low, g.High))
			case Inconclusive:
				out = append(out, fmt.Sprintf("%s: %s could not be judged (fewer than two groups large enough)", a.Name, criterionTitle[c]))
			}
		}
	}
	sort.Strings(out)
	return out
}

// errWriter keeps the first write error.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}

func (e *errWriter) printf(format string, args ...any) { fmt.Fprintf(e, format, args...) }
