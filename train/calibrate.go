package train

import (
	"fmt"
	"io"
	"math"
	"path/filepath"

	"github.com/deepscope/deepscope/data"
	"github.com/deepscope/deepscope/nn"
	"github.com/deepscope/deepscope/tensor"
)

// Temperature scaling (Guo et al., "On calibration of modern neural
// networks", ICML 2017): one number T divides every logit before the
// softmax, chosen to minimise the negative log-likelihood on the
// validation split. It leaves a single view's ranking and arg-max as they
// were and makes a probability of 0.9 mean right nine times in ten, which
// label smoothing (under-confident) and long training (over-confident)
// both break.

// Temperature bounds the search: beyond them a model is not miscalibrated
// but broken.
const (
	minTemperature = 0.05
	maxTemperature = 20
)

// SoftmaxTemperature returns the run's temperature, 1 when none was
// fitted: the logits are divided by it before the softmax or sigmoids.
func (ri *RunInfo) SoftmaxTemperature() float64 {
	if ri.Temperature > 0 {
		return ri.Temperature
	}
	return 1
}

// Calibration is the outcome of FitTemperature.
type Calibration struct {
	Temperature float64 // the fitted T
	Images      int     // validation images it was fitted on
	NLLBefore   float64 // mean negative log-likelihood at T = 1
	NLLAfter    float64 // and at the fitted T
}

// FitTemperature finds the temperature that minimises the mean negative
// log-likelihood of the probabilities Probabilities would give (with the
// same test-time views) on every image of l, a validation loader. The
// logits of each view are computed once; the search is a grid over log T
// refined by golden-section steps.
func FitTemperature(m nn.Module, l *data.Loader, info *RunInfo, tta bool) (*Calibration, error) {
	nn.SetTraining(m, false)
	k := len(info.Classes)
	var views int
	var logits []float32 // image-major: views x k values per image
	var labels []int
	var targets []bool
	var scratch *tensor.Tensor
	for b, err := range l.Epoch(0, 0) {
		if err != nil {
			return nil, err
		}
		views = numViews(b.X, tta)
		n := b.X.Dim(0)
		base := len(logits)
		logits = append(logits, make([]float32, n*views*k)...)
		for v := range views {
			z := viewLogits(m, b.X, v, &scratch).Values()
			if len(z) != n*k {
				return nil, fmt.Errorf("train: the model gives %d logits for %d images of %d classes", len(z), n, k)
			}
			for i := range n {
				copy(logits[base+(i*views+v)*k:][:k], z[i*k:(i+1)*k])
			}
		}
		if info.MultiLabel {
			for _, t := range b.Targets.Values() {
				targets = append(targets, t > 0.5)
			}
		} else {
			labels = append(labels, b.Labels...)
		}
	}
	if len(logits) == 0 {
		return nil, fmt.Errorf("train: no validation images to calibrate on")
	}
	nll := func(t float64) float64 {
		if info.MultiLabel {
			return multiLabelNLL(logits, targets, views, k, t)
		}
		return softmaxNLL(logits, labels, views, k, t)
	}
	t, after := minimiseTemperature(nll)
	n := len(labels)
	if info.MultiLabel {
		n = len(targets) / k
	}
	return &Calibration{Temperature: t, Images: n, NLLBefore: nll(1), NLLAfter: after}, nil
}

// minimiseTemperature returns the T in [minTemperature, maxTemperature]
// that minimises nll, and nll there: 41 values of log T across the range
// (each T 16% above the last), then golden-section steps between the best
// one's neighbours.
func minimiseTemperature(nll func(t float64) float64) (t, at float64) {
	lo, hi := math.Log(minTemperature), math.Log(maxTemperature)
	const grid = 40
	step := (hi - lo) / grid
	best, bestNLL := lo, math.Inf(1)
	for i := 0; i <= grid; i++ {
		u := lo + float64(i)*step
		if v := nll(math.Exp(u)); v < bestNLL {
			best, bestNLL = u, v
		}
	}
	a, c := max(best-step, lo), min(best+step, hi)
	const phi = 0.6180339887498949 // 1/golden ratio
	x1, x2 := c-phi*(c-a), a+phi*(c-a)
	f1, f2 := nll(math.Exp(x1)), nll(math.Exp(x2))
	for range 40 {
		if f1 < f2 {
			c, x2, f2 = x2, x1, f1
			x1 = c - phi*(c-a)
			f1 = nll(math.Exp(x1))
		} else {
			a, x1, f1 = x1, x2, f2
			x2 = a + phi*(c-a)
			f2 = nll(math.Exp(x2))
		}
	}
	t, at = math.Exp(best), bestNLL
	if u := (a + c) / 2; nll(math.Exp(u)) < at {
		t, at = math.Exp(u), nll(math.Exp(u))
	}
	return t, at
}

// softmaxNLL is the mean over images of -log of the true class's
// probability, averaged over the views' softmax(z / t).
func softmaxNLL(logits []float32, labels []int, views, k int, t float64) float64 {
	var sum float64
	for i, y := range labels {
		var p float64
		for v := range views {
			z := logits[(i*views+v)*k:][:k]
			zmax := math.Inf(-1)
			for _, x := range z {
				zmax = max(zmax, float64(x)/t)
			}
			var den float64
			for _, x := range z {
				den += math.Exp(float64(x)/t - zmax)
			}
			p += math.Exp(float64(z[y])/t-zmax) / den
		}
		sum -= math.Log(max(p/float64(views), 1e-300))
	}
	return sum / float64(len(labels))
}

// multiLabelNLL is the mean binary cross-entropy of the view-averaged
// sigmoid(z / t) against the targets.
func multiLabelNLL(logits []float32, targets []bool, views, k int, t float64) float64 {
	var sum float64
	n := len(targets) / k
	for i := range n {
		for j := range k {
			var p float64
			for v := range views {
				p += 1 / (1 + math.Exp(-float64(logits[(i*views+v)*k+j])/t))
			}
			p = min(max(p/float64(views), 1e-12), 1-1e-12)
			if targets[i*k+j] {
				sum -= math.Log(p)
			} else {
				sum -= math.Log(1 - p)
			}
		}
	}
	return sum / float64(n*k)
}

// Calibrate fits the temperature of the run in dir on its validation split
// (with the run's test-time augmentation setting) and records it in
// run.json, from where eval, predict and serve apply it. Train
// calls it when a run ends; runs made before it existed can be calibrated
// afterwards.
func Calibrate(dir string, log io.Writer) (*Calibration, error) {
	if log == nil {
		log = io.Discard
	}
	m, err := Load(dir)
	if err != nil {
		return nil, err
	}
	cfg := m.Info.Config
	ds, err := openSplitData(cfg)
	if err != nil {
		return nil, err
	}
	val := ds.Subset("val")
	if val.Len() == 0 {
		return nil, fmt.Errorf("train: %s has no validation images to calibrate on", cfg.Data)
	}
	l, err := EvalLoader(val, m.Info, cfg.Batch)
	if err != nil {
		return nil, err
	}
	return calibrate(m, l, log)
}

// calibrate fits m's temperature on the validation loader l and records it
// in m's run.json.
func calibrate(m *Model, l *data.Loader, log io.Writer) (*Calibration, error) {
	c, err := FitTemperature(m.Net, l, m.Info, m.Info.Config.TTA)
	if err != nil {
		return nil, err
	}
	m.Info.Temperature = c.Temperature
	if err := writeJSON(filepath.Join(m.Dir, RunFile), m.Info); err != nil {
		return nil, err
	}
	fmt.Fprintf(log, "calibration: temperature %.3f fitted on %d validation images (log-loss %.4f -> %.4f)\n",
		c.Temperature, c.Images, c.NLLBefore, c.NLLAfter)
	return c, nil
}
