package segment

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html/template"
	"path/filepath"
	"sort"
	"time"

	"github.com/deepscope/deepscope/data"
	"github.com/deepscope/deepscope/report"
)

// WriteReport writes dir/report.html: the headline measures of res, the
// score at each IoU threshold, the learning curve from the run's
// metrics.jsonl, pictures of the worst images, every image's scores and
// the run's configuration. The page is self-contained (images inline) and
// built with html/template, so names from the data are escaped.
func WriteReport(dir string, ri *RunInfo, res *EvalResult) error {
	logs, err := ReadMetrics(dir)
	if err != nil {
		return err
	}
	b, err := renderReport(ri, res, logs, time.Now())
	if err != nil {
		return err
	}
	return data.WriteFileAtomic(filepath.Join(dir, ReportFile), b)
}

type reportView struct {
	Title, Generated, Split string
	Headline                template.HTML
	Errors                  template.HTML // errors at IoU 0.5 by kind
	Thresholds              template.HTML
	Curve                   template.HTML
	Worst                   []reportCase
	Images                  template.HTML
	Config                  string
	Objects                 string // how probabilities became objects
}

type reportCase struct {
	URI     template.URL
	Caption string
}

func renderReport(ri *RunInfo, res *EvalResult, logs []EpochLog, now time.Time) ([]byte, error) {
	s := res.Summary
	v := reportView{
		Title:     "Nuclei segmentation: " + filepath.Base(filepath.Clean(res.Data)),
		Generated: now.Format("2 January 2006, 15:04"),
		Split:     fmt.Sprintf("%d images (%s), %d true and %d predicted objects; weights %s%s.", s.Images, res.Split, s.TrueObjects, s.PredObjects, filepath.Base(res.Weights), map[bool]string{true: ", four-rotation test-time augmentation", false: ""}[res.TTA]),
	}
	ic := res.Instance
	v.Objects = fmt.Sprintf("A pixel is foreground when its probability of belonging to some object exceeds %.2f, and seeds an object when its interior probability exceeds %.2f; seeds under %d pixels and objects under %d pixels are dropped",
		ic.Foreground, ic.Seed, ic.MinSeed, ic.MinArea)
	if ic.MinConfidence > 0 {
		v.Objects += fmt.Sprintf(", and so are objects whose mean foreground probability is under %.3f", ic.MinConfidence)
	}
	if ic.HV {
		v.Objects += fmt.Sprintf("; a seed pixel also needs the horizontal and vertical distance maps to fall by less than %.2f per pixel there, which parts touching objects, and growth meets where they fall most steeply or the boundary is likeliest", ic.Energy)
	}
	v.Objects += "."

	if ic.Rays > 0 {
		v.Objects = fmt.Sprintf("Star-convex head with %d rays: every pixel whose object probability exceeds %.2f proposes its polygon; from the most probable down, a polygon whose intersection with a kept one exceeds %.2f of the smaller polygon is dropped; objects under %d pixels are dropped.",
			ic.Rays, ic.Foreground, ic.NMS, ic.MinArea)
	}
	if ri != nil && ri.Tuning != nil {
		t := ri.Tuning
		v.Objects += fmt.Sprintf(" The thresholds and the smallest object kept were tuned on the run's %d hold-out images: their score went from %.3f to %.3f, and to %.3f when each image is scored with thresholds chosen on the other half of the images, the figure to expect on new images.",
			t.Images, t.Before, t.After, t.CrossVal)
		if res.Split == "holdout" {
			v.Objects += " The measures above are on those same images, so they lean optimistic by about the difference."
		}
	}
	v.Headline = report.Table([]string{"measure", "value"}, [][]string{
		{"Data Science Bowl score (mean over IoU 0.50–0.95 of TP/(TP+FP+FN))", f3(s.Score)},
		{"AP at IoU 0.5 (TP/(TP+FP+FN))", f3(s.AP50)},
		{"precision / recall at IoU 0.5", f3(s.Precision50) + " / " + f3(s.Recall50)},
		{"Dice of the foreground", f3(s.Dice)},
		{"count error: mean absolute (objects) / mean relative", fmt.Sprintf("%.2f / %.1f%%", s.CountMAE, 100*s.CountMRE)},
	})
	pct := func(n, of int) string { return fmt.Sprintf("%d (%.1f%%)", n, 100*float64(n)/float64(max(of, 1))) }
	e := s.Errors
	v.Errors = report.Table([]string{"what went wrong", "objects"}, [][]string{
		{"true objects missed (less than half covered by predictions)", pct(e.Missed, s.TrueObjects)},
		{"true objects merged with a neighbour into one prediction", pct(e.Merged, s.TrueObjects)},
		{"true objects split among two or more predictions", pct(e.Split, s.TrueObjects)},
		{"true objects found but outlined too loosely", pct(e.Loose, s.TrueObjects)},
		{"spurious predictions (mostly off every true object), of the predicted", pct(e.Spurious, s.PredObjects)},
	})
	var th [][]string
	for i, t := range Thresholds {
		th = append(th, []string{fmt.Sprintf("%.2f", t), f3(s.PerThreshold[i])})
	}
	v.Thresholds = report.Table([]string{"IoU threshold", "TP/(TP+FP+FN)"}, th)
	if len(logs) > 0 {
		var rows [][]string
		for _, l := range logs {
			val := ""
			if l.ValScore != nil {
				val = f3(*l.ValScore)
			}
			mark := ""
			if l.Best {
				mark = "best"
			}
			rows = append(rows, []string{fmt.Sprint(l.Epoch), fmt.Sprintf("%.4f", l.TrainLoss), val, fmt.Sprintf("%.2g", l.LR), fmt.Sprintf("%.0f", l.Seconds), mark})
		}
		v.Curve = report.Table([]string{"epoch", "training loss", "hold-out score", "learning rate", "seconds", ""}, rows)
	}
	for _, c := range res.Worst {
		v.Worst = append(v.Worst, reportCase{
			URI:     template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(c.PNG)),
			Caption: fmt.Sprintf("%s: score %.3f, %d true and %d predicted objects", c.Score.Name, c.Score.Score, c.Score.True, c.Score.Pred),
		})
	}
	imgs := append([]ImageScore(nil), res.Images...)
	sort.SliceStable(imgs, func(a, b int) bool { return imgs[a].Score < imgs[b].Score })
	var rows [][]string
	for _, sc := range imgs {
		rows = append(rows, []string{sc.Name, f3(sc.Score), f3(sc.AP50), f3(sc.Dice), fmt.Sprint(sc.True), fmt.Sprint(sc.Pred), sc.Errors.String()})
	}
	v.Images = report.Table([]string{"image", "score", "AP50", "Dice", "true objects", "predicted", "errors at IoU 0.5"}, rows)
	if ri != nil {
		cb, err := json.MarshalIndent(ri.Config, "", "  ")
		if err != nil {
			return nil, err
		}
		v.Config = string(cb)
	}
	var buf bytes.Buffer
	if err := reportPage.Execute(&buf, v); err != nil {
		return nil, fmt.Errorf("segment: report: %w", err)
	}
	return buf.Bytes(), nil
}

func f3(x float64) string { return fmt.Sprintf("%.3f", x) }

var reportPage = template.Must(template.New("report").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Title}}</title>
<style>
body{font:15px/1.45 system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border-bottom:1px solid #ddd;padding:.25em .8em;text-align:left}
th{background:#f4f4f4}figure{display:inline-block;margin:0 1em 1.5em 0;vertical-align:top}
img{max-width:100%;image-rendering:pixelated;border:1px solid #ccc}figcaption{font-size:13px;color:#555}
pre{background:#f7f7f7;padding:1em;overflow:auto}
</style></head><body>
<h1>{{.Title}}</h1>
<p>{{.Split}} Generated {{.Generated}}.</p>
<h2>Measures</h2>{{.Headline}}
<p>{{.Objects}}</p>
<h2>Errors at IoU 0.5, by kind</h2>{{.Errors}}
<h2>Score by IoU threshold</h2>{{.Thresholds}}
{{if .Worst}}<h2>Worst images</h2>
<p>True objects' outlines (left, green) beside the predicted ones (right, magenta).</p>
{{range .Worst}}<figure><img src="{{.URI}}" alt="{{.Caption}}"><figcaption>{{.Caption}}</figcaption></figure>
{{end}}{{end}}
{{if .Curve}}<h2>Training</h2>{{.Curve}}{{end}}
<h2>Every image, worst first</h2>{{.Images}}
{{if .Config}}<h2>Configuration</h2><pre>{{.Config}}</pre>{{end}}
</body></html>
`))
