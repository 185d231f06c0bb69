package report

import (
	"fmt"
	"math"
	"slices"

	"github.com/deepscope/deepscope/metrics"
)

// stat is one headline number.
type stat struct {
	Label, Value, Range, Hint string
}

// headline returns the numbers at the top of the page.
func headline(r *metrics.Result) []stat {
	if r.Task == metrics.MultiLabel {
		return []stat{
			{"Macro AUC", auc(r.AUC), ci(r, aucRange(r.AUCCI)), "mean over labels; 0.5 is chance, 1 is perfect"},
			{"Macro F1", dec(r.MacroF1), ci(r, decRange(r.MacroF1CI)), fmt.Sprintf("at threshold %.2f", r.Threshold)},
			{"Exact match", pct(r.SubsetAccuracy), ci(r, pctRange(r.SubsetAccuracyCI)), "images with every label right"},
			{"Hamming loss", pct(r.HammingLoss), ci(r, pctRange(r.HammingLossCI)), "label decisions wrong"},
		}
	}
	return []stat{
		{"Accuracy", pct(r.Accuracy), ci(r, pctRange(r.AccuracyCI)), "images classified right"},
		{"AUC", auc(r.AUC), ci(r, aucRange(r.AUCCI)), "one-vs-rest, mean over classes; 1 is perfect"},
		{"Balanced accuracy", pct(r.BalancedAccuracy), ci(r, pctRange(r.BalancedAccuracyCI)), "mean sensitivity over classes"},
		{"Macro F1", dec(r.MacroF1), ci(r, decRange(r.MacroF1CI)), "mean over classes"},
		{"Calibration error", pct(r.ECE), ci(r, pctRange(r.ECECI)), "gap between confidence and accuracy (ECE)"},
	}
}

// ci prefixes a formatted interval with its level: "95% CI 97.0–98.1%";
// empty when there is no interval.
func ci(r *metrics.Result, rng string) string {
	if rng == "" {
		return ""
	}
	return fmt.Sprintf("%.0f%% CI %s", 100*r.Level, rng)
}

// paren wraps s as " (s)", or returns "" for an empty s.
func paren(s string) string {
	if s == "" {
		return ""
	}
	return " (" + s + ")"
}

// findings returns the plain sentences under the headline numbers.
func findings(p *Page) []string {
	r := p.Test
	var out []string
	what := fmt.Sprintf("%s images", count(r.N))
	if p.Dataset.Name != "" {
		split := p.Dataset.Split
		if split == "" {
			split = "test"
		}
		what += fmt.Sprintf(" of the %s split of %s", split, p.Dataset.Name)
	}
	kind := "classes"
	if r.Task == metrics.MultiLabel {
		kind = "labels, each decided yes or no"
	}
	s := fmt.Sprintf("Tested on %s, %d %s.", what, len(r.Classes), kind)
	if r.Task != metrics.MultiLabel && r.Confusion != nil {
		right := 0
		for i := range r.Confusion {
			right += r.Confusion[i][i]
		}
		s += fmt.Sprintf(" %s classified right, %s wrong.", count(right), count(r.N-right))
	}
	out = append(out, s)

	if r.Task == metrics.MultiLabel {
		if c := weakest(r, func(c metrics.ClassResult) float64 { return c.AUC }); c != nil {
			out = append(out, fmt.Sprintf("Hardest label: %s, AUC %s%s, %s positive images.",
				c.Name, auc(c.AUC), paren(ci(r, aucRange(c.AUCCI))), count(c.Support)))
		}
		return out
	}
	if c := weakest(r, func(c metrics.ClassResult) float64 { return c.Recall }); c != nil {
		out = append(out, fmt.Sprintf("Weakest class: %s, sensitivity %s%s on %s images.",
			c.Name, pct(c.Recall), paren(ci(r, pctRange(c.RecallCI))), count(c.Support)))
	}
	if t, pr, n := topConfusion(r); n > 0 {
		out = append(out, fmt.Sprintf("Most frequent mistake: %s called %s, %s times (%s of %s).",
			r.Classes[t], r.Classes[pr], count(n), pct(float64(n)/float64(r.PerClass[t].Support)), r.Classes[t]))
	}
	if s := confidentShare(r); s != "" {
		out = append(out, s)
	}
	return out
}

// weakest returns the class with the lowest defined score, or nil.
func weakest(r *metrics.Result, score func(metrics.ClassResult) float64) *metrics.ClassResult {
	var w *metrics.ClassResult
	for i := range r.PerClass {
		c := &r.PerClass[i]
		if v := score(*c); !math.IsNaN(v) && (w == nil || v < score(*w)) {
			w = c
		}
	}
	return w
}

// topConfusion returns the largest off-diagonal cell of the confusion matrix.
func topConfusion(r *metrics.Result) (trueClass, predicted, n int) {
	for i, row := range r.Confusion {
		for j, v := range row {
			if i != j && v > n {
				trueClass, predicted, n = i, j, v
			}
		}
	}
	return
}

// topErrors describes the n largest off-diagonal cells of the confusion
// matrix, largest first.
func topErrors(r *metrics.Result, n int) []string {
	type cell struct{ t, p, v int }
	var cells []cell
	for i, row := range r.Confusion {
		for j, v := range row {
			if i != j && v > 0 {
				cells = append(cells, cell{i, j, v})
			}
		}
	}
	slices.SortStableFunc(cells, func(a, b cell) int { return b.v - a.v })
	var out []string
	for _, c := range cells[:min(n, len(cells))] {
		out = append(out, fmt.Sprintf("%s called %s: %s (%s of %s)", r.Classes[c.t], r.Classes[c.p],
			count(c.v), pct(float64(c.v)/float64(r.PerClass[c.t].Support)), r.Classes[c.t]))
	}
	if rest := len(cells) - n; rest > 0 {
		var k int
		for _, c := range cells[n:] {
			k += c.v
		}
		out = append(out, fmt.Sprintf("and %s in %s", plural(k, "more image"), plural(rest, "other cell")))
	}
	return out
}

// plural formats n with the noun, adding "s" unless n is 1.
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return count(n) + " " + noun + "s"
}

// confidentShare says how often the model was right when it was confident
// (confidence above the first bin edge at or past 0.8), and how the rest did.
func confidentShare(r *metrics.Result) string {
	var cut float64 = -1
	var hiN, loN int
	var hiRight, loRight float64
	for _, b := range r.Reliability {
		if cut < 0 && b.Lo >= 0.8-1e-9 {
			cut = b.Lo
		}
		if b.Count == 0 {
			continue
		}
		if cut >= 0 {
			hiN += b.Count
			hiRight += b.Accuracy * float64(b.Count)
		} else {
			loN += b.Count
			loRight += b.Accuracy * float64(b.Count)
		}
	}
	if cut < 0 || hiN == 0 {
		return ""
	}
	s := fmt.Sprintf("When the model was more than %.0f%% confident (%s images, %s), it was right %s of the time",
		100*cut, count(hiN), pct(float64(hiN)/float64(hiN+loN)), pct(hiRight/float64(hiN)))
	if loN > 0 {
		s += fmt.Sprintf("; on the other %s images it was right %s of the time", count(loN), pct(loRight/float64(loN)))
	}
	return s + "."
}

// specificity returns TN / (TN + FP) of class c, one-vs-rest.
func specificity(r *metrics.Result, c int) float64 {
	cr := r.PerClass[c]
	var tp float64
	if r.Confusion != nil {
		tp = float64(r.Confusion[c][c])
	} else if cr.Support > 0 {
		tp = math.Round(cr.Recall * float64(cr.Support))
	}
	fp := float64(cr.Predicted) - tp
	neg := float64(r.N - cr.Support)
	if neg == 0 {
		return math.NaN()
	}
	return (neg - fp) / neg
}
