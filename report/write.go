package report

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"image"
	_ "image/gif"  // decode the size of GIF examples
	_ "image/jpeg" // and of JPEG ones
	_ "image/png"  // and of PNG ones
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/deepscope/deepscope/metrics"
)

// view is what the template reads: the page plus everything derived from it.
type view struct {
	P            *Page
	Generated    string
	MultiLabel   bool
	Headline     []stat
	Findings     []string
	Method       string
	Level        string // "95%"
	Rows         []classRow
	Axis         template.HTML
	Confusion    template.HTML
	TopErrors    []string
	ROC          []template.HTML
	Legend       []legendItem
	Reliability  template.HTML
	ECE, ECECI   string
	Curves       []template.HTML
	RunFacts     [][2]string
	Mistakes     []picture
	Explanations []picture
	Config       string
}

type classRow struct {
	Name, Support, Sens, SensCI, Spec, Prec, PrecCI, F1, AUC, AUCCI string
	Bar                                                             template.HTML
}

type legendItem struct {
	Swatch template.HTML
	Name   string
	AUC    string
}

// picture is an image ready for an <img> element.
type picture struct {
	URI        template.URL
	Small      bool // under 96 px wide: scale up without smoothing
	Path       string
	True       string
	Predicted  string
	Confidence string
	Caption    string
}

// Write renders p as one self-contained HTML page: styles, charts (inline
// SVG) and images (data: URIs) are all inside it, so it opens offline and
// can be mailed as one file.
func Write(w io.Writer, p *Page) error {
	if p == nil || p.Test == nil {
		return errors.New("report: no test results to show")
	}
	v, err := build(p)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := pageTemplate.Execute(&buf, v); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	_, err = w.Write(buf.Bytes())
	return err
}

// WriteFile writes the page to path through a temporary file in the same
// folder, renamed into place, so a reader never sees half a report.
func WriteFile(path string, p *Page) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".report-*.html")
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := Write(tmp, p); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("report: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("report: %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return nil
}

func build(p *Page) (*view, error) {
	r := p.Test
	gen := p.Generated
	if gen.IsZero() {
		gen = time.Now()
	}
	v := &view{
		P:          p,
		Generated:  gen.Format("2 January 2006, 15:04"),
		MultiLabel: r.Task == metrics.MultiLabel,
		Headline:   headline(r),
		Findings:   findings(p),
		Confusion:  confusionChart(r),
		TopErrors:  topErrors(r, 6),
		Curves:     learningCurves(p.Epochs, p.Run.BestEpoch),
	}
	v.Level = fmt.Sprintf("%.0f%%", 100*r.Level)
	if r.Resamples > 0 {
		v.Method = fmt.Sprintf("Ranges are %.0f%% confidence intervals: percentiles of %s bootstrap resamples of the test images (seed %d).",
			100*r.Level, count(r.Resamples), r.Seed)
	}
	if !v.MultiLabel {
		v.Reliability = reliabilityChart(r)
		v.ECE, v.ECECI = pct(r.ECE), ci(r, pctRange(r.ECECI))
	}
	v.Rows, v.Axis = classRows(r)
	hasROC := false
	for i, c := range r.PerClass {
		hasROC = hasROC || len(c.ROC.FPR) > 0
		sw := newSVG(26, 10, "")
		sw.line(1, 5, 25, 5, seriesStyle(i, 2.5))
		v.Legend = append(v.Legend, legendItem{sw.html(), c.Name, "AUC " + auc(c.AUC) + paren(aucRange(c.AUCCI))})
	}
	if hasROC {
		v.ROC = []template.HTML{rocChart(r, 1, 0, "ROC curves")}
		// The corner is worth enlarging only when every curve hugs it.
		if xmax, ymin := rocZoom(r); ymin >= 0.7 {
			v.ROC = append(v.ROC, rocChart(r, xmax, ymin, "ROC curves, top-left corner enlarged"))
		}
	}
	v.RunFacts = runFacts(p)
	for _, m := range p.Mistakes {
		pic := newPicture(m.Image)
		pic.Path, pic.True, pic.Predicted, pic.Confidence = m.Path, m.True, m.Predicted, pct(m.Confidence)
		v.Mistakes = append(v.Mistakes, pic)
	}
	for _, e := range p.Explanations {
		pic := newPicture(e.Image)
		pic.Caption = e.Caption
		v.Explanations = append(v.Explanations, pic)
	}
	if p.Config != nil {
		b, err := json.MarshalIndent(p.Config, "", "  ")
		if err != nil {
			return nil, fmt.Errorf("report: config: %w", err)
		}
		v.Config = string(b)
	}
	return v, nil
}

func classRows(r *metrics.Result) ([]classRow, template.HTML) {
	lo := 1.0
	for _, c := range r.PerClass {
		if c.RecallCI.Valid() {
			lo = math.Min(lo, c.RecallCI[0])
		} else if !math.IsNaN(c.Recall) {
			lo = math.Min(lo, c.Recall)
		}
	}
	lo = math.Min(math.Floor(lo*10-1e-9)/10, 0.9)
	lo = math.Max(lo, 0)
	var rows []classRow
	for i, c := range r.PerClass {
		rows = append(rows, classRow{
			Name: c.Name, Support: count(c.Support),
			Sens: pct(c.Recall), SensCI: pctRange(c.RecallCI),
			Spec: pct(specificity(r, i)),
			Prec: pct(c.Precision), PrecCI: pctRange(c.PrecisionCI),
			F1:  dec(c.F1),
			AUC: auc(c.AUC), AUCCI: aucRange(c.AUCCI),
			Bar: intervalBar(c.Recall, c.RecallCI, lo),
		})
	}
	return rows, intervalAxis(lo)
}

func runFacts(p *Page) [][2]string {
	var out [][2]string
	add := func(k, v string) {
		if v != "" {
			out = append(out, [2]string{k, v})
		}
	}
	r := p.Run
	add("Model", r.Model)
	if r.InputSize > 0 {
		add("Input", fmt.Sprintf("%d \u00d7 %d pixels", r.InputSize, r.InputSize))
	}
	if r.Epochs > 0 {
		s := fmt.Sprintf("%d epochs", r.Epochs)
		if d := duration(r.WallTime); d != "" {
			s += " in " + d
		}
		if r.ImagesPerSec > 0 {
			s += fmt.Sprintf(" (%s images/s)", count(int(math.Round(r.ImagesPerSec))))
		}
		add("Training", s)
	}
	if r.BestEpoch > 0 {
		add("Kept checkpoint", fmt.Sprintf("epoch %d", r.BestEpoch))
	}
	if p.Dataset.Train > 0 {
		add("Training images", count(p.Dataset.Train))
	}
	if p.Dataset.Val > 0 {
		add("Validation images", count(p.Dataset.Val))
	}
	add("Device", r.Device)
	add("deepscope", r.Version)
	return out
}

// newPicture wraps encoded image bytes as a data: URI; bytes that are not
// a PNG, JPEG or GIF image give an empty URI, shown as a placeholder.
func newPicture(b []byte) picture {
	mime := http.DetectContentType(b)
	switch mime {
	case "image/png", "image/jpeg", "image/gif":
	default:
		return picture{}
	}
	pic := picture{URI: template.URL("data:" + mime + ";base64," + base64.StdEncoding.EncodeToString(b))}
	if cfg, _, err := image.DecodeConfig(bytes.NewReader(b)); err == nil && cfg.Width < 96 {
		pic.Small = true
	}
	return pic
}
