package report

import (
	"fmt"
	"html/template"
	"math"

	"github.com/deepscope/deepscope/metrics"
)

// series is one line of a chart.
type series struct {
	name string
	x, y []float64
}

// recorded reports whether a series has any value that is neither zero nor NaN.
func recorded(y []float64) bool {
	for _, v := range y {
		if v != 0 && !math.IsNaN(v) {
			return true
		}
	}
	return false
}

// lineChart draws series over epochs, with a legend above the plot and a
// dashed marker at epoch best (0: none). yfmt formats the y ticks; unit
// fixes the y range to at most [0, 1] when true.
func lineChart(label, ylabel string, ss []series, best int, unit bool) template.HTML {
	const W, H = 330.0, 240.0
	left, right, top, bottom := 54.0, W-12, 34.0, H-44
	xlo, xhi := math.Inf(1), math.Inf(-1)
	ylo, yhi := math.Inf(1), math.Inf(-1)
	for _, s := range ss {
		for i, v := range s.y {
			if math.IsNaN(v) {
				continue
			}
			xlo, xhi = math.Min(xlo, s.x[i]), math.Max(xhi, s.x[i])
			ylo, yhi = math.Min(ylo, v), math.Max(yhi, v)
		}
	}
	if math.IsInf(xlo, 0) {
		return ""
	}
	if !unit && ylo > 0 && ylo < 0.3*yhi {
		ylo = 0 // losses and rates read best from zero
	}
	xt, xa, xb := niceTicks(math.Max(xlo, 0), xhi, 5)
	if xt[0] < 1 && xlo >= 1 {
		xa = 0
	}
	yt, ya, yb := niceTicks(ylo, yhi, 4)
	if unit && yb > 1 {
		yb = 1
		yt = yt[:len(yt)-1]
		if yt[len(yt)-1] < 1 {
			yt = append(yt, 1)
		}
	}
	x := scale{xa, xb, left, right}
	y := scale{ya, yb, bottom, top}
	s := newSVG(W, H, label)
	xs, ys := stepOf(xt), stepOf(yt)
	s.axes(x, y, xt, yt, "epoch", ylabel,
		func(v float64) string { return tickLabel(v, xs) },
		func(v float64) string { return tickLabel(v, ys) })
	if best > 0 {
		px := x.at(float64(best))
		s.line(px, top, px, bottom, `class="marker"`)
		s.text(px, top-4, "middle", `class="note"`, "kept")
	}
	lx := left
	for i, se := range ss {
		px := make([]float64, len(se.x))
		py := make([]float64, len(se.y))
		for j := range se.x {
			px[j], py[j] = x.at(se.x[j]), y.at(se.y[j])
		}
		st := seriesStyle(i, 2)
		s.polyline(px, py, st)
		if len(se.x) <= 40 {
			for j := range px {
				if !math.IsNaN(py[j]) {
					s.raw(`<circle cx="%s" cy="%s" r="2.2" fill="%s"/>`, f(px[j]), f(py[j]), palette[i%len(palette)])
				}
			}
		}
		s.line(lx, 14, lx+18, 14, st)
		s.text(lx+22, 18, "start", `class="legend"`, se.name)
		lx += 30 + 6.3*float64(len(se.name))
	}
	return s.html()
}

// learningCurves returns the loss, validation-score and learning-rate
// charts, leaving out any with nothing recorded.
func learningCurves(ep []Epoch, best int) []template.HTML {
	if len(ep) == 0 {
		return nil
	}
	col := func(get func(Epoch) float64) series {
		var s series
		for _, e := range ep {
			s.x = append(s.x, float64(e.Epoch))
			s.y = append(s.y, get(e))
		}
		return s
	}
	var out []template.HTML
	group := func(label, ylabel string, unit bool, names []string, gets ...func(Epoch) float64) {
		var ss []series
		for i, g := range gets {
			s := col(g)
			if recorded(s.y) {
				s.name = names[i]
				ss = append(ss, s)
			}
		}
		if len(ss) > 0 {
			out = append(out, lineChart(label, ylabel, ss, best, unit))
		}
	}
	group("Loss per epoch", "loss", false, []string{"train", "validation"},
		func(e Epoch) float64 { return e.TrainLoss }, func(e Epoch) float64 { return e.ValLoss })
	group("Validation accuracy and AUC per epoch", "validation score", true, []string{"accuracy", "AUC"},
		func(e Epoch) float64 { return e.ValAccuracy }, func(e Epoch) float64 { return e.ValAUC })
	group("Learning rate per epoch", "learning rate", false, []string{"learning rate"},
		func(e Epoch) float64 { return e.LR })
	return out
}

// blues maps t in [0, 1] to a sequential blue (ColorBrewer Blues end points
// and middle), which reads the same to colour-blind eyes.
func blues(t float64) string {
	stops := [][3]float64{{247, 251, 255}, {198, 219, 239}, {107, 174, 214}, {33, 113, 181}, {8, 48, 107}}
	t = math.Max(0, math.Min(1, t)) * float64(len(stops)-1)
	i := min(int(t), len(stops)-2)
	u := t - float64(i)
	var c [3]int
	for k := range c {
		c[k] = int(math.Round(stops[i][k] + u*(stops[i+1][k]-stops[i][k])))
	}
	return fmt.Sprintf("#%02x%02x%02x", c[0], c[1], c[2])
}

// textWidth estimates the width in pixels of s at a 12 px sans-serif font.
func textWidth(s string) float64 { return 6.6 * float64(len([]rune(s))) }

// confusionChart draws the confusion matrix: counts in the cells, colour by
// the share of the row (the true class), on a square-root scale so that
// small error rates still show.
func confusionChart(r *metrics.Result) template.HTML {
	k := len(r.Classes)
	if k == 0 || len(r.Confusion) != k {
		return ""
	}
	cell := math.Max(28, math.Min(56, 460/float64(k)))
	var lw float64
	for _, c := range r.Classes {
		lw = math.Max(lw, textWidth(c))
	}
	left := lw + 34
	top := 30.0
	grid := cell * float64(k)
	bottom := top + grid + lw*0.71 + 18
	W := left + grid + 70
	s := newSVG(W, bottom, "Confusion matrix")
	s.text(left+grid/2, 16, "middle", `class="axis-title"`, "predicted class")
	s.raw(`<text transform="translate(14 %s) rotate(-90)" text-anchor="middle" class="axis-title">true class</text>`, f(top+grid/2))
	s.text(left+grid+8, top-8, "start", `class="note"`, "images")
	for i, row := range r.Confusion {
		var n int
		for _, v := range row {
			n += v
		}
		y := top + float64(i)*cell
		s.text(left-8, y+cell/2+4, "end", `class="label"`, r.Classes[i])
		s.text(left+grid+8, y+cell/2+4, "start", `class="note"`, count(n))
		for j, v := range row {
			x := left + float64(j)*cell
			share := 0.0
			if n > 0 {
				share = float64(v) / float64(n)
			}
			s.rect(x, y, cell, cell, fmt.Sprintf(`fill="%s" class="cell"`, blues(math.Sqrt(share))))
			if i == j {
				s.rect(x+1, y+1, cell-2, cell-2, `class="diag"`)
			}
			ink := "#222"
			if math.Sqrt(share) > 0.6 {
				ink = "#fff"
			}
			if v == 0 {
				continue
			}
			if cell >= 44 {
				s.text(x+cell/2, y+cell/2+1, "middle", fmt.Sprintf(`class="count" fill="%s"`, ink), count(v))
				s.text(x+cell/2, y+cell/2+14, "middle", fmt.Sprintf(`class="share" fill="%s"`, ink), pct(share))
			} else {
				s.text(x+cell/2, y+cell/2+4, "middle", fmt.Sprintf(`class="count small" fill="%s"`, ink), count(v))
			}
		}
	}
	for j, c := range r.Classes {
		x := left + float64(j)*cell + cell/2 + 4
		y := top + grid + 10
		s.raw(`<text transform="translate(%s %s) rotate(-45)" text-anchor="end" class="label">%s</text>`, f(x), f(y), esc(c))
	}
	return s.html()
}

// rocChart draws every class's ROC curve over the window [0, xmax] x [ymin, 1].
func rocChart(r *metrics.Result, xmax, ymin float64, label string) template.HTML {
	const W, H = 330.0, 330.0
	left, right, top, bottom := 54.0, W-14, 14.0, H-46
	x := scale{0, xmax, left, right}
	y := scale{ymin, 1, bottom, top}
	s := newSVG(W, H, label)
	xt, _, _ := niceTicks(0, xmax, 4)
	yt, _, _ := niceTicks(ymin, 1, 4)
	xs, ys := stepOf(xt), stepOf(yt)
	s.axes(x, y, xt, yt, "false positive rate (1 \u2212 specificity)", "true positive rate (sensitivity)",
		func(v float64) string { return tickLabel(v, xs) },
		func(v float64) string { return tickLabel(v, ys) })
	id := fmt.Sprintf("clip%d", int(xmax*1000)+int(ymin*10))
	s.raw(`<clipPath id="%s"><rect x="%s" y="%s" width="%s" height="%s"/></clipPath><g clip-path="url(#%s)">`,
		id, f(left), f(top), f(right-left), f(bottom-top), id)
	s.polyline([]float64{x.at(0), x.at(1)}, []float64{y.at(0), y.at(1)}, `class="chance"`)
	for i, c := range r.PerClass {
		if len(c.ROC.FPR) == 0 {
			continue
		}
		px := make([]float64, len(c.ROC.FPR))
		py := make([]float64, len(c.ROC.TPR))
		for j := range px {
			px[j], py[j] = x.at(c.ROC.FPR[j]), y.at(c.ROC.TPR[j])
		}
		s.polyline(px, py, seriesStyle(i, 1.8)+` stroke-linejoin="round"`)
	}
	s.raw(`</g>`)
	return s.html()
}

// rocZoom picks the window of the zoomed ROC chart: false positive rates
// up to 0.1 and true positive rates from a round value below where the
// weakest curve stands at 1% false positives.
func rocZoom(r *metrics.Result) (xmax, ymin float64) {
	lowest := 1.0
	for _, c := range r.PerClass {
		for j := range c.ROC.FPR {
			if c.ROC.FPR[j] > 0.01 {
				lowest = math.Min(lowest, c.ROC.TPR[max(j-1, 0)])
				break
			}
		}
	}
	ymin = math.Floor((lowest-0.02)*20) / 20
	return 0.1, math.Max(0, math.Min(ymin, 0.9))
}

// reliabilityChart draws the reliability diagram: for each confidence bin,
// a bar as high as the share of right answers, the gap to the bin's mean
// confidence hatched, the diagonal of perfect calibration, and the number
// of images above each bar.
func reliabilityChart(r *metrics.Result) template.HTML {
	if len(r.Reliability) == 0 {
		return ""
	}
	const W, H = 420.0, 330.0
	left, right, top, bottom := 54.0, W-14, 20.0, H-46
	x := scale{0, 1, left, right}
	y := scale{0, 1, bottom, top}
	s := newSVG(W, H, "Reliability diagram")
	s.raw(`<defs><pattern id="gap" width="5" height="5" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">` +
		`<rect width="5" height="5" fill="#fbe3c6"/><line x1="0" y1="0" x2="0" y2="5" stroke="#D55E00" stroke-width="1.6"/></pattern></defs>`)
	t := []float64{0, 0.2, 0.4, 0.6, 0.8, 1}
	s.axes(x, y, t, t, "confidence (highest predicted probability)", "share correct",
		func(v float64) string { return tickLabel(v, 0.2) }, func(v float64) string { return tickLabel(v, 0.2) })
	for _, b := range r.Reliability {
		if b.Count == 0 {
			continue
		}
		x0, x1 := x.at(b.Lo)+1, x.at(b.Hi)-1
		s.rect(x0, y.at(b.Accuracy), x1-x0, bottom-y.at(b.Accuracy), `class="bar"`)
		lo, hi := math.Min(b.Accuracy, b.Confidence), math.Max(b.Accuracy, b.Confidence)
		if hi-lo > 0.002 {
			s.rect(x0, y.at(hi), x1-x0, y.at(lo)-y.at(hi), `fill="url(#gap)" class="gap"`)
		}
		// The count runs up the bar from its foot, in white, or above a
		// bar too short to hold it.
		label := count(b.Count)
		cx := (x0+x1)/2 + 3.5
		if need := 6.2*float64(len(label)) + 8; bottom-y.at(b.Accuracy) >= need {
			s.raw(`<text transform="translate(%s %s) rotate(-90)" class="binlabel in">%s</text>`, f(cx), f(bottom-4), label)
		} else {
			s.raw(`<text transform="translate(%s %s) rotate(-90)" class="binlabel">%s</text>`, f(cx), f(y.at(hi)-3), label)
		}
	}
	s.polyline([]float64{x.at(0), x.at(1)}, []float64{y.at(0), y.at(1)}, `class="chance"`)
	s.rect(left+10, top+8, 12, 10, `class="bar"`)
	s.text(left+26, top+17, "start", `class="legend"`, "share correct")
	s.rect(left+10, top+24, 12, 10, `fill="url(#gap)" class="gap"`)
	s.text(left+26, top+33, "start", `class="legend"`, "gap to confidence")
	return s.html()
}

// intervalBar draws a point with its interval on the axis [lo, 1], for a
// column of the per-class table.
func intervalBar(v float64, iv metrics.Interval, lo float64) template.HTML {
	const W, H = 140.0, 16.0
	x := scale{lo, 1, 6, W - 6}
	s := newSVG(W, H, "")
	s.line(x.a, H/2, x.b, H/2, `class="track"`)
	for _, t := range []float64{lo, (lo + 1) / 2, 1} {
		s.line(x.at(t), H/2-3, x.at(t), H/2+3, `class="track"`)
	}
	if iv.Valid() {
		s.line(x.at(math.Max(iv[0], lo)), H/2, x.at(iv[1]), H/2, `class="whisker"`)
	}
	if !math.IsNaN(v) {
		s.raw(`<circle cx="%s" cy="%s" r="3.6" class="dot"/>`, f(x.at(math.Max(v, lo))), f(H/2))
	}
	return s.html()
}

// intervalAxis draws the scale under the interval bars' column heading.
func intervalAxis(lo float64) template.HTML {
	const W, H = 140.0, 14.0
	x := scale{lo, 1, 6, W - 6}
	s := newSVG(W, H, "")
	for i, t := range []float64{lo, (lo + 1) / 2, 1} {
		anchor := []string{"start", "middle", "end"}[i]
		px := x.at(t)
		if i == 0 {
			px -= 6
		} else if i == 2 {
			px += 6
		}
		s.text(px, 11, anchor, `class="tick"`, fmt.Sprintf("%.0f%%", 100*t))
	}
	return s.html()
}
