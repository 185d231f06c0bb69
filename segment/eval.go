package segment

import (
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"time"

	"github.com/deepscope/deepscope/nn"
	"github.com/deepscope/deepscope/progress"
)

// EvalResult is what Evaluate measured; eval.json holds it.
type EvalResult struct {
	Data    string `json:"data"`
	Split   string `json:"split"` // "holdout" (the run's) or "all"
	Weights string `json:"weights"`
	TTA     bool   `json:"tta"`
	// Instance is how probabilities were turned into objects.
	Instance InstanceConfig `json:"instance"`
	Summary  Summary        `json:"summary"`
	Images   []ImageScore   `json:"images"` // in the order evaluated
	Seconds  float64        `json:"seconds"`
	// Worst are pictures of the lowest-scoring images, worst first: the
	// true outlines beside the predicted ones. Not saved in eval.json.
	Worst []Case `json:"-"`
}

// Case is one evaluated image shown in a report.
type Case struct {
	Score ImageScore
	PNG   []byte // Compare's picture
}

// maxReportWidth bounds the width of a report's pictures, so that a page
// of large images stays small enough to open and mail.
const maxReportWidth = 1600

// EvalSplit chooses the samples to evaluate a run on: the run's hold-out
// images when ds is the run's dataset (by fingerprint) and all is false;
// otherwise every sample.
func EvalSplit(ds *Dataset, ri *RunInfo, all bool) ([]Sample, string, error) {
	if !all && ds.Fingerprint() == ri.Fingerprint {
		s, err := pick(ds, ri.Holdout)
		return s, "holdout", err
	}
	return ds.Samples, "all", nil
}

// Evaluate segments each sample with m, scores it against its labels and
// keeps pictures of the worst images (at most keep). Images are read one
// at a time, so memory does not grow with the dataset.
func Evaluate(m *Model, samples []Sample, keep int, log io.Writer) (*EvalResult, error) {
	if log == nil {
		log = io.Discard
	}
	nn.SetTraining(m.Net, false)
	res := &EvalResult{Weights: m.Weights, TTA: m.TTA, Instance: m.Instance.WithDefaults()}
	t0 := time.Now()
	bar := progress.New(log, len(samples), "evaluating")
	for i, s := range samples {
		img, truth, err := s.Load()
		if err != nil {
			return nil, err
		}
		pred := m.Segment(img)
		sc := Score(truth, pred)
		sc.Name = s.Name
		res.Images = append(res.Images, sc)
		if keep > 0 && (len(res.Worst) < keep || sc.Score < res.Worst[len(res.Worst)-1].Score.Score) {
			b, err := EncodePNG(compareSmall(img, truth, pred, maxReportWidth))
			if err != nil {
				return nil, fmt.Errorf("segment: %s: %w", s.Image, err)
			}
			res.Worst = append(res.Worst, Case{sc, b})
			sort.SliceStable(res.Worst, func(a, b int) bool { return res.Worst[a].Score.Score < res.Worst[b].Score.Score })
			if len(res.Worst) > keep {
				res.Worst = res.Worst[:keep]
			}
		}
		bar.Update(i+1, progress.Float("score", Summarize(res.Images).Score))
	}
	bar.Done()
	res.Summary = Summarize(res.Images)
	res.Seconds = time.Since(t0).Seconds()
	return res, nil
}

// WriteEval writes res to dir/eval.json.
func WriteEval(dir string, res *EvalResult) error {
	return writeJSON(filepath.Join(dir, EvalFile), res)
}
