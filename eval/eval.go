// Package eval measures a trained run on held-out data and writes its
// report: the test metrics with bootstrap intervals (eval.json), and
// report.html with learning curves, confusion matrix, ROC curves,
// reliability diagram, per-class table and the most confident mistakes.
package eval

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"time"

	"github.com/deepscope/deepscope/data"
	"github.com/deepscope/deepscope/metrics"
	"github.com/deepscope/deepscope/privacy"
	"github.com/deepscope/deepscope/report"
	"github.com/deepscope/deepscope/tensor"
	"github.com/deepscope/deepscope/train"
)

// Options control Run.
type Options struct {
	Data      string // dataset to measure; "" means the run's own data
	Split     string // split to measure; "" means "test"
	Resamples int    // bootstrap resamples; 0 means 1000
	TTA       *bool  // test-time augmentation; nil means the run's setting
	Mistakes  int    // confident mistakes shown in the report; 0 means 12
	Batch     int    // images per forward pass; 0 means 256
}

// Outcome is an evaluation of a run.
type Outcome struct {
	Model *train.Model
	Data  *data.Dataset // the split measured
	Eval  *train.Evaluation
}

// Run evaluates the run in dir on a split of a dataset. Classes of the
// dataset must be a subset of the model's; the measures are then taken
// over the model's classes with labels mapped by name.
func Run(dir string, o Options) (*Outcome, error) {
	m, err := train.Load(dir)
	if err != nil {
		return nil, err
	}
	path := o.Data
	if path == "" {
		path = m.Info.Config.Data
		if m.Info.Config.Split != "" {
			path = m.Info.Config.Split
		}
	}
	ds, err := data.Open(path)
	if err != nil {
		return nil, err
	}
	if err := mapClasses(ds, m.Info.Classes); err != nil {
		return nil, err
	}
	split := o.Split
	if split == "" {
		split = "test"
	}
	sub := ds.Subset(split)
	if sub.Len() == 0 && slices.Equal(ds.Splits(), []string{""}) {
		sub = ds // a labelled folder without splits (another lab's images): measure all of it
	}
	if sub.Len() == 0 {
		return nil, fmt.Errorf("eval: %s has no images in split %q (splits: %v)", path, split, ds.Splits())
	}
	batch := o.Batch
	if batch == 0 {
		batch = 256
	}
	l, err := train.EvalLoader(sub, m.Info, batch)
	if err != nil {
		return nil, err
	}
	tta := m.Info.Config.TTA
	if o.TTA != nil {
		tta = *o.TTA
	}
	ev, err := train.Evaluate(m.Net, l, m.Info, train.EvalOptions{Resamples: o.Resamples, TTA: tta, Seed: m.Info.Config.Seed})
	if err != nil {
		return nil, err
	}
	return &Outcome{Model: m, Data: sub, Eval: ev}, nil
}

// mapClasses renumbers ds's labels to the model's class list, so a dataset
// with a subset of the classes (another lab's five white-cell types, say)
// is scored against the model's outputs.
func mapClasses(ds *data.Dataset, classes []string) error {
	if ds.MultiLabel {
		if len(ds.Classes) != len(classes) {
			return fmt.Errorf("eval: the data has %d labels, the model %d", len(ds.Classes), len(classes))
		}
		return nil
	}
	index := map[string]int{}
	for i, c := range classes {
		index[c] = i
	}
	remap := make([]int, len(ds.Classes))
	for i, c := range ds.Classes {
		j, ok := index[c]
		if !ok {
			return fmt.Errorf("eval: class %q of %s is not one the model knows (%v)", c, ds.Root, classes)
		}
		remap[i] = j
	}
	for i := range ds.Items {
		if ds.Items[i].Label >= 0 {
			ds.Items[i].Label = remap[ds.Items[i].Label]
		}
	}
	ds.Classes = append([]string(nil), classes...)
	return nil
}

// WriteReport writes dir/eval.json and dir/report.html for an outcome.
func WriteReport(dir string, out *Outcome, o Options) error {
	js, err := out.Eval.Result.MarshalJSON()
	if err != nil {
		return err
	}
	if err := data.WriteFileAtomic(filepath.Join(dir, train.EvalFile), append(js, '\n')); err != nil {
		return err
	}
	page, err := Page(dir, out, o)
	if err != nil {
		return err
	}
	return report.WriteFile(filepath.Join(dir, train.ReportFile), page)
}

// Page assembles the report of an outcome, with Grad-CAM maps of correct
// and wrong test predictions for models that allow them.
func Page(dir string, out *Outcome, o Options) (*report.Page, error) {
	info := out.Model.Info
	logs, err := train.ReadMetrics(dir)
	if err != nil {
		return nil, err
	}
	name := datasetName(info.Config.Data)
	p := &report.Page{
		Title: fmt.Sprintf("%s on %s", info.Config.Model, name),
		Dataset: report.Dataset{Name: name, Split: out.Data.Items[0].Split,
			Train: info.TrainImages, Val: info.ValImages},
		Run: report.Run{Model: info.Config.Model, InputSize: info.Config.Size, Epochs: len(logs),
			Device: fmt.Sprintf("CPU, %d threads (%s)", info.Threads, runtime.GOARCH), Version: info.Version,
			Temperature: info.Temperature},
		Test:   out.Eval.Result,
		Config: info,
	}
	var secs float64
	var imgs float64
	for _, l := range logs {
		p.Epochs = append(p.Epochs, report.Epoch{Epoch: l.Epoch, TrainLoss: l.TrainLoss, ValLoss: l.ValLoss,
			ValAccuracy: l.ValAccuracy, ValAUC: l.ValAUC, LR: l.LR})
		if l.Best {
			p.Run.BestEpoch = l.Epoch
		}
		secs += l.Seconds
		imgs += l.ImgPerSec * l.Seconds
	}
	if secs > 0 {
		p.Run.WallTime = time.Duration(secs * float64(time.Second))
		p.Run.ImagesPerSec = imgs / secs
	}
	n := o.Mistakes
	if n == 0 {
		n = 12
	}
	if !info.MultiLabel {
		p.Mistakes = mistakes(out, n)
		p.Explanations = gallery(out, galleryMax)
	}
	ledger, err := privacy.ReadLedger(dir)
	if err != nil {
		return nil, err
	}
	if ledger != nil {
		p.Sections = append(p.Sections, ledger.Section())
	}
	if r, ok := auditSection(out, o); ok { // a run balanced by a column is audited by it
		p.Sections = append(p.Sections, r.Section())
	}
	return p, nil
}

// datasetName names a dataset by its folder: the folder itself, or the
// folder holding a manifest or archive file.
func datasetName(path string) string {
	path = filepath.Clean(path)
	if ext := filepath.Ext(path); ext == ".csv" {
		return filepath.Base(filepath.Dir(path))
	}
	return filepath.Base(path)
}

// mistakes returns the n wrong predictions made with the highest
// confidence, with their images as the model saw them (cropped and
// resized, before normalisation).
func mistakes(out *Outcome, n int) []report.Example {
	type wrong struct {
		i    int
		pred int
		conf float64
	}
	var ws []wrong
	for i, p := range out.Eval.Probs {
		best := 0
		for j := range p {
			if p[j] > p[best] {
				best = j
			}
		}
		if best != out.Eval.Labels[i] {
			ws = append(ws, wrong{i, best, p[best]})
		}
	}
	sort.SliceStable(ws, func(a, b int) bool { return ws[a].conf > ws[b].conf })
	if len(ws) > n {
		ws = ws[:n]
	}
	classes := out.Model.Info.Classes
	pre := out.Model.Info.Preprocess()
	var ex []report.Example
	for _, w := range ws {
		idx := out.Eval.Indices[w.i]
		img, err := out.Data.Image(idx)
		if err != nil {
			continue
		}
		var buf bytes.Buffer
		if err := png.Encode(&buf, toRGBA(pre.Apply(img))); err != nil {
			continue
		}
		ex = append(ex, report.Example{Image: buf.Bytes(), Path: out.Data.Items[idx].Path,
			True: classes[out.Eval.Labels[w.i]], Predicted: classes[w.pred], Confidence: w.conf})
	}
	return ex
}

// toRGBA converts an image [H, W, C] in [0, 1] to an RGBA image.
func toRGBA(t *tensor.Tensor) *image.RGBA {
	h, w, c := t.Dim(0), t.Dim(1), t.Dim(2)
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	v := t.Contiguous().Values()
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			var rgb [3]uint8
			for ch := range rgb {
				f := float64(v[(y*w+x)*c+min(ch, c-1)])
				rgb[ch] = uint8(math.Round(math.Min(math.Max(f, 0), 1) * 255))
			}
			img.SetRGBA(x, y, color.RGBA{rgb[0], rgb[1], rgb[2], 255})
		}
	}
	return img
}

// Summary is the short line printed after an evaluation.
func Summary(r *metrics.Result) string {
	if r.Task == metrics.MultiLabel {
		return fmt.Sprintf("%d images: macro AUC %.4f %v, subset accuracy %.4f", r.N, r.AUC, r.AUCCI, r.SubsetAccuracy)
	}
	return fmt.Sprintf("%d images: accuracy %.4f %v, balanced accuracy %.4f, macro F1 %.4f, AUC %.4f %v, ECE %.4f",
		r.N, r.Accuracy, r.AccuracyCI, r.BalancedAccuracy, r.MacroF1, r.AUC, r.AUCCI, r.ECE)
}
