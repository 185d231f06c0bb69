package eval

import (
	"bytes"
	"fmt"
	"image/png"
	"sort"

	"github.com/deepscope/deepscope/data"
	"github.com/deepscope/deepscope/explain"
	"github.com/deepscope/deepscope/report"
)

// galleryMax bounds the Grad-CAM figures a report shows.
const galleryMax = 16

// gallery returns Grad-CAM maps of the predicted class for a few test
// images of each true class, correct and wrong ones, the most confident
// first: a round over the classes takes each class's next correct and next
// wrong prediction, until limit figures are made. It returns nil for models
// Grad-CAM cannot explain (those without a feature/head split).
func gallery(out *Outcome, limit int) []report.Figure {
	m := out.Model
	if _, ok := m.Net.(explain.Splitter); !ok || limit <= 0 {
		return nil
	}
	type pick struct {
		i, pred int
		conf    float64
	}
	k := len(m.Info.Classes)
	right, wrong := make([][]pick, k), make([][]pick, k)
	for i, p := range out.Eval.Probs {
		pred := 0
		for j := range p {
			if p[j] > p[pred] {
				pred = j
			}
		}
		t := out.Eval.Labels[i]
		if t < 0 || t >= k {
			continue
		}
		if pred == t {
			right[t] = append(right[t], pick{i, pred, p[pred]})
		} else {
			wrong[t] = append(wrong[t], pick{i, pred, p[pred]})
		}
	}
	for c := range k {
		for _, l := range [][]pick{right[c], wrong[c]} {
			sort.SliceStable(l, func(a, b int) bool { return l[a].conf > l[b].conf })
		}
	}
	var chosen []pick
	for r := 0; len(chosen) < limit; r++ {
		added := false
		for c := 0; c < k && len(chosen) < limit; c++ {
			for _, l := range [][]pick{right[c], wrong[c]} {
				if r < len(l) && len(chosen) < limit {
					chosen = append(chosen, l[r])
					added = true
				}
			}
		}
		if !added {
			break
		}
	}
	// Show each class's examples together.
	sort.SliceStable(chosen, func(a, b int) bool {
		return out.Eval.Labels[chosen[a].i] < out.Eval.Labels[chosen[b].i]
	})
	size := m.Info.Config.Size
	view := data.Preprocess{Size: min(max(4*size, 96), 192), Crop: m.Info.Config.Crop, Channels: 3}
	classes := m.Info.Classes
	var figs []report.Figure
	for _, p := range chosen {
		img, err := out.Data.Image(out.Eval.Indices[p.i])
		if err != nil {
			continue
		}
		x := m.Prepare(img)
		heat, err := explain.GradCAM(m.Net, x.Reshape(append([]int{1}, x.Shape...)...), p.pred)
		if err != nil {
			continue
		}
		var buf bytes.Buffer
		if err := png.Encode(&buf, explain.Overlay(view.Apply(img), heat)); err != nil {
			continue
		}
		t := classes[out.Eval.Labels[p.i]]
		caption := fmt.Sprintf("%s, correct, %.1f%%", t, 100*p.conf)
		if p.pred != out.Eval.Labels[p.i] {
			caption = fmt.Sprintf("%s taken for %s, %.1f%%", t, classes[p.pred], 100*p.conf)
		}
		figs = append(figs, report.Figure{Image: buf.Bytes(), Caption: "Grad-CAM: " + caption})
	}
	return figs
}
