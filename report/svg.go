package report

import (
	"fmt"
	"html"
	"html/template"
	"math"
	"strings"
)

// svg accumulates the markup of one inline SVG chart. Text is escaped as
// it is added, so the finished chart is safe to place in the page as is.
type svg struct {
	b    strings.Builder
	w, h float64
}

func newSVG(w, h float64, label string) *svg {
	s := &svg{w: w, h: h}
	fmt.Fprintf(&s.b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %g %g" width="%g" height="%g" role="img" aria-label="%s">`,
		w, h, w, h, esc(label))
	return s
}

func esc(s string) string { return html.EscapeString(s) }

// f formats a coordinate with at most two decimals.
func f(x float64) string {
	s := fmt.Sprintf("%.2f", x)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	if s == "-0" {
		s = "0"
	}
	return s
}

func (s *svg) raw(format string, a ...any) { fmt.Fprintf(&s.b, format, a...) }

func (s *svg) line(x1, y1, x2, y2 float64, attrs string) {
	s.raw(`<line x1="%s" y1="%s" x2="%s" y2="%s" %s/>`, f(x1), f(y1), f(x2), f(y2), attrs)
}

func (s *svg) rect(x, y, w, h float64, attrs string) {
	s.raw(`<rect x="%s" y="%s" width="%s" height="%s" %s/>`, f(x), f(y), f(w), f(h), attrs)
}

// text draws escaped text; anchor is start, middle or end.
func (s *svg) text(x, y float64, anchor, attrs, text string) {
	s.raw(`<text x="%s" y="%s" text-anchor="%s" %s>%s</text>`, f(x), f(y), anchor, attrs, esc(text))
}

// polyline draws the points as one path; points with a NaN coordinate
// break the line.
func (s *svg) polyline(xs, ys []float64, attrs string) {
	var d strings.Builder
	pen := false
	for i := range xs {
		if math.IsNaN(xs[i]) || math.IsNaN(ys[i]) {
			pen = false
			continue
		}
		if pen {
			d.WriteString("L")
		} else {
			d.WriteString("M")
		}
		d.WriteString(f(xs[i]) + " " + f(ys[i]))
		pen = true
	}
	if d.Len() > 0 {
		s.raw(`<path d="%s" fill="none" %s/>`, d.String(), attrs)
	}
}

func (s *svg) html() template.HTML {
	return template.HTML(s.b.String() + "</svg>")
}

// scale maps data values in [lo, hi] to pixels in [a, b].
type scale struct{ lo, hi, a, b float64 }

func (sc scale) at(v float64) float64 {
	if sc.hi == sc.lo {
		return (sc.a + sc.b) / 2
	}
	return sc.a + (v-sc.lo)/(sc.hi-sc.lo)*(sc.b-sc.a)
}

// niceTicks returns about n round tick values (1, 2 or 5 times a power of
// ten apart) covering [lo, hi], and the widened range they span.
func niceTicks(lo, hi float64, n int) (ticks []float64, tlo, thi float64) {
	if math.IsNaN(lo) || math.IsNaN(hi) || math.IsInf(lo, 0) || math.IsInf(hi, 0) {
		lo, hi = 0, 1
	}
	if hi <= lo {
		d := math.Max(math.Abs(lo)*0.1, 0.5)
		lo, hi = lo-d, hi+d
	}
	raw := (hi - lo) / float64(max(n, 1))
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag * 10
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	tlo = math.Floor(lo/step+1e-9) * step
	thi = math.Ceil(hi/step-1e-9) * step
	for v := tlo; v <= thi+step*1e-6; v += step {
		ticks = append(ticks, math.Round(v/step)*step)
	}
	return ticks, tlo, thi
}

// tickLabel formats a tick value with no more decimals than step needs.
func tickLabel(v, step float64) string {
	if v == 0 {
		return "0"
	}
	if math.Abs(v) < 1e-3 || math.Abs(v) >= 1e5 {
		return strings.Replace(fmt.Sprintf("%.0e", v), "e-0", "e-", 1)
	}
	dec := 0
	if step < 1 {
		dec = int(math.Ceil(-math.Log10(step) - 1e-9))
		if step*math.Pow(10, float64(dec)) != math.Round(step*math.Pow(10, float64(dec))) {
			dec++
		}
	}
	return fmt.Sprintf("%.*f", dec, v)
}

// axes draws a plot frame with grid lines, tick labels and axis titles for
// the scales x and y, whose pixel ranges give the plot area.
func (s *svg) axes(x, y scale, xt, yt []float64, xlabel, ylabel string, xfmt, yfmt func(float64) string) {
	left, right := x.a, x.b
	top, bottom := y.b, y.a
	for _, v := range yt {
		py := y.at(v)
		s.line(left, py, right, py, `class="grid"`)
		s.text(left-6, py+4, "end", `class="tick"`, yfmt(v))
	}
	for _, v := range xt {
		px := x.at(v)
		s.line(px, top, px, bottom, `class="grid"`)
		s.text(px, bottom+16, "middle", `class="tick"`, xfmt(v))
	}
	s.rect(left, top, right-left, bottom-top, `class="frame"`)
	if xlabel != "" {
		s.text((left+right)/2, bottom+34, "middle", `class="axis-title"`, xlabel)
	}
	if ylabel != "" {
		s.raw(`<text transform="translate(%s %s) rotate(-90)" text-anchor="middle" class="axis-title">%s</text>`,
			f(left-42), f((top+bottom)/2), esc(ylabel))
	}
}

func stepOf(t []float64) float64 {
	if len(t) < 2 {
		return 1
	}
	return t[1] - t[0]
}

// palette is Okabe and Ito's set of colours that stay distinct under the
// common colour-vision deficiencies, less its yellow, which is too faint as
// a thin line on white; series beyond seven reuse a colour with a dash.
var palette = []string{"#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#000000"}

// dashes tell apart series that share a colour once the palette runs out.
var dashes = []string{"", "6 3", "2 2", "8 3 2 3"}

// seriesStyle returns the stroke attributes of series i.
func seriesStyle(i int, width float64) string {
	st := fmt.Sprintf(`stroke="%s" stroke-width="%g"`, palette[i%len(palette)], width)
	if d := dashes[(i/len(palette))%len(dashes)]; d != "" {
		st += fmt.Sprintf(` stroke-dasharray="%s"`, d)
	}
	return st
}
