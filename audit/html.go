package audit

import (
	"fmt"
	"html"
	"html/template"
	"strings"

	"github.com/deepscope/deepscope/report"
)

// Section returns the audit as a part of report.html: per attribute, a
// table of the groups, a table of per-class true and false positive rates,
// and a table of the gaps with their verdicts.
func (r *Report) Section() report.Section {
	var b strings.Builder
	p := func(format string, args ...any) {
		b.WriteString("<p>" + html.EscapeString(fmt.Sprintf(format, args...)) + "</p>")
	}
	p("Verdict: %s. %d images, %s. Limits: %s. A group needs %d images to be judged, a per-class rate %d images and an interval at most %g wide; rates marked * are shown but not judged.",
		strings.ToUpper(string(r.Verdict)), r.N, r.intervalsText(), r.Limits, r.MinSupport, r.MinClassSupport, r.MaxWidth)
	for i := range r.Attributes {
		a := &r.Attributes[i]
		b.WriteString("<h3>" + html.EscapeString(fmt.Sprintf("By %s: %s", a.Name, a.Verdict)) + "</h3>")
		var rows [][]string
		for _, g := range a.Groups {
			rows = append(rows, []string{g.Name, fmt.Sprint(g.Support), fmtEst(g.Accuracy), fmtEst(g.AUC), fmtEst(g.ECE), g.Note})
		}
		b.WriteString(string(report.Table([]string{"group", "images", "accuracy", "AUC", "ECE", "note"}, rows)))
		header := []string{"class"}
		for _, g := range a.Groups {
			header = append(header, g.Name+" TPR", g.Name+" FPR")
		}
		rows = rows[:0]
		for c, name := range r.Classes {
			row := []string{name}
			for _, g := range a.Groups {
				gc := g.Classes[c]
				row = append(row, fmtEst(gc.TPR)+star(gc.TPRJudged), fmtEst(gc.FPR)+star(gc.FPRJudged))
			}
			rows = append(rows, row)
		}
		b.WriteString(string(report.Table(header, rows)))
		b.WriteString(string(report.Table([]string{"criterion", "worst class", "gap [95% CI]", "ratio", "lowest / highest", "verdict"}, a.gapRows())))
		if note := a.classMixNote(); note != "" {
			p("Note: %s.", note)
		}
	}
	return report.Section{Title: "Audit by " + r.names(), Body: template.HTML(b.String())}
}

func star(judged bool) string {
	if judged {
		return ""
	}
	return "*"
}

func (r *Report) names() string {
	var n []string
	for _, a := range r.Attributes {
		n = append(n, a.Name)
	}
	return strings.Join(n, ", ")
}
