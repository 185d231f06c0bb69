package tune

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html"
	"html/template"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/deepscope/deepscope/report"
)

// The leaderboard page is drawn by hand, as package report draws its
// charts: inline SVG, no script, no network, readable offline.

type pageView struct {
	Title, Summary, Generated string
	Plot                      template.HTML
	Table                     template.HTML
	Best                      string
	BestNote                  string
}

func leaderboardPage(opt Options, trials []Trial) ([]byte, error) {
	lb := Leaderboard(trials, opt.Metric)
	done := 0
	for _, t := range trials {
		if t.Status == Complete {
			done++
		}
	}
	v := pageView{
		Title: "Hyperparameter search: " + opt.Strategy,
		Summary: fmt.Sprintf("%d trials, %d complete; ranked by validation %s of the last epoch trained. Data: %s.",
			len(trials), done, opt.Metric, opt.Base.Data),
		Generated: time.Now().Format("2 January 2006, 15:04"),
		Plot:      parallelCoordinates(opt.Space, opt.Metric, lb),
	}
	header := []string{"rank", "trial", opt.Metric, "epochs", "status"}
	for _, q := range opt.Space {
		header = append(header, q.Name)
	}
	header = append(header, "seconds", "note")
	var rows [][]string
	for i, t := range lb {
		m := "-"
		if t.Epochs > 0 {
			m = strconv.FormatFloat(t.Metric, 'f', 4, 64)
		}
		row := []string{strconv.Itoa(i + 1), strconv.Itoa(t.ID), m, fmt.Sprintf("%d/%d", t.Epochs, t.MaxEpochs), string(t.Status)}
		for _, q := range opt.Space {
			row = append(row, formatValue(t.Params[q.Name]))
		}
		rows = append(rows, append(row, fmt.Sprintf("%.0f", t.Seconds), t.Error))
	}
	v.Table = report.Table(header, rows)
	if best, ok := Best(trials, opt.Metric); ok {
		cfg, err := BestConfig(opt.Base, best)
		if err != nil {
			return nil, err
		}
		b, err := json.MarshalIndent(cfg, "", "  ")
		if err != nil {
			return nil, err
		}
		v.Best = string(b)
		v.BestNote = fmt.Sprintf("Trial %d (%s %.4f after %d of %d epochs, %s). Saved as %s; train it in full with deepscope train --config %s --out RUN.",
			best.ID, opt.Metric, best.Metric, best.Epochs, best.MaxEpochs, best.Status, BestFile, BestFile)
	}
	var buf bytes.Buffer
	if err := pageTemplate.Execute(&buf, v); err != nil {
		return nil, fmt.Errorf("tune: leaderboard: %w", err)
	}
	return buf.Bytes(), nil
}

// axis places the values of one hyperparameter (or the metric) on a
// vertical line: choices evenly spaced in their given order, ranges
// linearly or, for log ranges, logarithmically.
type axis struct {
	name    string
	choices []any
	lo, hi  float64
	log     bool
}

// at returns v's position on the axis, 0 at the bottom and 1 at the top,
// or NaN for a value it does not hold.
func (a axis) at(v any) float64 {
	if a.choices != nil {
		for i, c := range a.choices {
			if sameJSON(c, v) {
				if len(a.choices) == 1 {
					return 0.5
				}
				return float64(i) / float64(len(a.choices)-1)
			}
		}
		return math.NaN()
	}
	f, ok := v.(float64)
	if !ok {
		return math.NaN()
	}
	lo, hi := a.lo, a.hi
	if a.log {
		f, lo, hi = math.Log(f), math.Log(lo), math.Log(hi)
	}
	if hi == lo {
		return 0.5
	}
	return math.Min(math.Max((f-lo)/(hi-lo), 0), 1) // a baseline may lie outside the range: put it at the end
}

// ticks returns labelled positions for the axis.
func (a axis) ticks() []struct {
	pos   float64
	label string
} {
	var out []struct {
		pos   float64
		label string
	}
	add := func(v any) {
		out = append(out, struct {
			pos   float64
			label string
		}{a.at(v), formatValue(v)})
	}
	if a.choices != nil {
		for _, c := range a.choices {
			add(c)
		}
		return out
	}
	mid := (a.lo + a.hi) / 2
	if a.log {
		mid = math.Sqrt(a.lo * a.hi)
	}
	for _, v := range []float64{a.lo, mid, a.hi} {
		add(v)
	}
	return out
}

// parallelCoordinates draws one axis per hyperparameter and one for the
// metric, and each trial that finished an epoch as a line across them,
// coloured by its metric (dark: best). Complete trials are solid lines,
// the others dashed; the best is drawn last and thickest.
func parallelCoordinates(sp Space, metric string, lb []Trial) template.HTML {
	var axes []axis
	for _, q := range sp {
		d := q.Dist
		if d.Kind == "choice" {
			axes = append(axes, axis{name: q.Name, choices: d.Values})
		} else {
			axes = append(axes, axis{name: q.Name, lo: d.Lo, hi: d.Hi, log: d.Kind == "log"})
		}
	}
	var shown []Trial
	mlo, mhi := math.Inf(1), math.Inf(-1)
	for _, t := range lb {
		if t.Epochs > 0 && !math.IsNaN(t.Metric) {
			shown = append(shown, t)
			mlo, mhi = math.Min(mlo, t.Metric), math.Max(mhi, t.Metric)
		}
	}
	if len(shown) == 0 {
		return ""
	}
	axes = append(axes, axis{name: "val " + metric, lo: mlo, hi: mhi})
	const left, top, gap, height = 60.0, 40.0, 150.0, 300.0
	w := left*2 + gap*float64(len(axes)-1)
	h := top + height + 50
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %.0f %.0f" width="%.0f" height="%.0f" role="img" aria-label="parallel coordinates of the trials">`, w, h, w, h)
	x := func(i int) float64 { return left + gap*float64(i) }
	y := func(p float64) float64 { return top + (1-p)*height }
	for i := len(shown) - 1; i >= 0; i-- { // worst first, so the best lie on top
		t := shown[i]
		rel := 0.5
		if mhi > mlo {
			rel = (t.Metric - mlo) / (mhi - mlo)
		}
		if metric == "loss" {
			rel = 1 - rel
		}
		rel = 0.12 + 0.88*rel // viridis's last yellow is too faint on white
		var pts []string
		for k, a := range axes {
			var p float64
			if k == len(axes)-1 {
				p = a.at(t.Metric)
			} else {
				p = a.at(t.Params[a.name])
			}
			if !math.IsNaN(p) {
				pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(k), y(p)))
			}
		}
		style := ` stroke-dasharray="5 3" stroke-opacity="0.7"`
		if t.Status == Complete {
			style = ""
		}
		width := 1.5
		if i == 0 {
			width = 3.5
		}
		fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="%.1f"%s><title>trial %d: %s %.4f, %s</title></polyline>`,
			strings.Join(pts, " "), ramp(rel), width, style, t.ID, html.EscapeString(metric), t.Metric, html.EscapeString(string(t.Status)))
	}
	for k, a := range axes {
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#444" stroke-width="1"/>`, x(k), y(0), x(k), y(1))
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle" font-weight="bold">%s</text>`, x(k), top-18, html.EscapeString(a.name))
		if a.log {
			fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle" class="small">log scale</text>`, x(k), top+height+34)
		}
		for _, tk := range a.ticks() {
			label := tk.label
			if k == len(axes)-1 {
				label = strconv.FormatFloat(a.lo+tk.pos*(a.hi-a.lo), 'f', 4, 64)
			}
			fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="end" class="small">%s</text>`, x(k)-5, y(tk.pos)+4, html.EscapeString(label))
		}
	}
	b.WriteString("</svg>")
	return template.HTML(b.String())
}

// ramp returns a colour of the viridis scale for t in [0, 1]: yellow for
// the worst, dark blue-purple for the best; it stays ordered in lightness
// under the common colour-vision deficiencies and in grey print.
func ramp(t float64) string {
	stops := [][3]float64{{253, 231, 37}, {94, 201, 98}, {33, 145, 140}, {59, 82, 139}, {68, 1, 84}}
	t = math.Min(math.Max(t, 0), 1) * float64(len(stops)-1)
	i := min(int(t), len(stops)-2)
	f := t - float64(i)
	var c [3]int
	for k := range c {
		c[k] = int(math.Round(stops[i][k] + f*(stops[i+1][k]-stops[i][k])))
	}
	return fmt.Sprintf("#%02x%02x%02x", c[0], c[1], c[2])
}

var pageTemplate = template.Must(template.New("leaderboard").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"/><title>{{.Title}}</title>
<style>
body{font:15px/1.45 system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em;font-size:14px}td,th{border-bottom:1px solid #ddd;padding:.25em .7em;text-align:left}
th{background:#f4f4f4}pre{background:#f7f7f7;padding:1em;overflow:auto}
svg{max-width:100%;height:auto;font-size:13px}svg .small{font-size:11px;fill:#444;paint-order:stroke;stroke:#fff;stroke-width:3px}.note{color:#555;font-size:14px}
</style></head><body>
<h1>{{.Title}}</h1>
<p>{{.Summary}} Generated {{.Generated}}.</p>
{{if .Plot}}<h2>Trials</h2>
<figure>{{.Plot}}</figure>
<p class="note">One line per trial that finished an epoch, through its value of each hyperparameter and its validation metric on the right; colour by metric, from yellow (worst) to dark purple (best), the best trial thickest. Dashed lines are trials stopped early (paused, pruned, cancelled or failed), whose metric comes from fewer epochs.</p>{{end}}
<h2>Leaderboard</h2>
{{.Table}}
{{if .Best}}<h2>Best configuration</h2>
<p>{{.BestNote}}</p>
<pre>{{.Best}}</pre>{{end}}
</body></html>
`))
