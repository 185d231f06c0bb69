package train

import (
	"fmt"
	"math"

	"github.com/deepscope/deepscope/data"
	"github.com/deepscope/deepscope/metrics"
	"github.com/deepscope/deepscope/nn"
	"github.com/deepscope/deepscope/tensor"
)

// EvalOptions control Evaluate.
type EvalOptions struct {
	Resamples int    // bootstrap resamples for intervals; 0 means 1000, negative none
	Seed      uint64 // bootstrap seed
	TTA       bool   // average over the 8 flips and 90-degree rotations
}

// Evaluation is a model's output on a dataset and the measures of it.
type Evaluation struct {
	Result  *metrics.Result
	Loss    float64     // mean cross-entropy (or binary cross-entropy) of the predictions
	Probs   [][]float64 // per image, per class
	Labels  []int       // true class per image (-1 for multi-label data)
	Targets [][]bool    // multi-label truth per image
	Indices []int       // dataset item index per image
}

// EvalLoader returns a loader that feeds ds to a model of the run in order,
// preprocessed and normalised as in training, without augmentation.
func EvalLoader(ds *data.Dataset, info *RunInfo, batch int) (*data.Loader, error) {
	return data.NewLoader(ds, data.LoaderConfig{BatchSize: batch, Preprocess: info.Preprocess(),
		Normalize: info.Normalize(), Workers: info.Config.Workers})
}

// Evaluate runs m in eval mode over every batch of l and measures the
// predictions. m is left in eval mode.
func Evaluate(m nn.Module, l *data.Loader, info *RunInfo, o EvalOptions) (*Evaluation, error) {
	nn.SetTraining(m, false)
	ev := &Evaluation{}
	var tta *tensor.Tensor
	var nll float64
	for b, err := range l.Epoch(0, 0) {
		if err != nil {
			return nil, err
		}
		probs := Probabilities(m, b.X, info, o.TTA, &tta)
		k := probs.Dim(1)
		p := probs.Values()
		for i, idx := range b.Indices {
			row := make([]float64, k)
			for j := range row {
				row[j] = float64(p[i*k+j])
			}
			ev.Probs = append(ev.Probs, row)
			ev.Indices = append(ev.Indices, idx)
			if info.MultiLabel {
				t := b.Targets.Values()[i*k : (i+1)*k]
				tr := make([]bool, k)
				for j := range tr {
					tr[j] = t[j] > 0.5
					q := math.Min(math.Max(row[j], 1e-12), 1-1e-12)
					if tr[j] {
						nll -= math.Log(q) / float64(k)
					} else {
						nll -= math.Log(1-q) / float64(k)
					}
				}
				ev.Targets = append(ev.Targets, tr)
				ev.Labels = append(ev.Labels, -1)
			} else {
				ev.Labels = append(ev.Labels, b.Labels[i])
				nll -= math.Log(math.Max(row[b.Labels[i]], 1e-12))
			}
		}
	}
	if len(ev.Probs) == 0 {
		return nil, fmt.Errorf("train: nothing to evaluate")
	}
	ev.Loss = nll / float64(len(ev.Probs))
	mo := metrics.Options{Resamples: o.Resamples, Seed: o.Seed}
	var err error
	if info.MultiLabel {
		ev.Result, err = metrics.EvaluateMultiLabel(ev.Targets, ev.Probs, info.Classes, mo)
	} else {
		ev.Result, err = metrics.Evaluate(ev.Labels, ev.Probs, info.Classes, mo)
	}
	return ev, err
}

// Probabilities returns class probabilities [N, classes] for a normalised
// batch x [N, H, W, C] from a model of the run info describes: softmax of
// the logits divided by the run's temperature (see FitTemperature), or
// per-label sigmoids for multi-label models. With tta the probabilities
// are averaged over the eight symmetries of the square (cells have no
// orientation); scratch holds the transformed batch between calls.
func Probabilities(m nn.Module, x *tensor.Tensor, info *RunInfo, tta bool, scratch **tensor.Tensor) *tensor.Tensor {
	views := numViews(x, tta)
	var acc *tensor.Tensor
	for k := range views {
		p := Activate(viewLogits(m, x, k, scratch), info)
		if views == 1 {
			return p
		}
		if acc == nil {
			acc = p.Clone()
		} else {
			for i, v := range p.Values() {
				acc.Data[i] += v
			}
		}
	}
	for i := range acc.Data {
		acc.Data[i] /= float32(views)
	}
	return acc
}

// numViews is how many test-time views of x Probabilities averages: the
// eight symmetries of a square batch with tta, else one.
func numViews(x *tensor.Tensor, tta bool) int {
	if tta && x.Dim(1) == x.Dim(2) {
		return 8
	}
	return 1
}

// viewLogits returns m's logits for view k of x (see dihedral).
func viewLogits(m nn.Module, x *tensor.Tensor, k int, scratch **tensor.Tensor) *tensor.Tensor {
	in := x
	if k > 0 {
		in = tensor.Ensure(scratch, x.Shape...)
		dihedral(in, x, k)
	}
	return m.Forward(in)
}

// Activate turns logits [N, K] of a model of the run info describes into
// probabilities: softmax, or per-label sigmoids for multi-label models, of
// the logits divided by the run's temperature. The logits are left as they
// are (they are the model's own buffer).
func Activate(logits *tensor.Tensor, info *RunInfo) *tensor.Tensor {
	t := float32(info.SoftmaxTemperature())
	z := logits
	if t != 1 || info.MultiLabel {
		z = logits.Clone()
	}
	if t != 1 {
		for i := range z.Data {
			z.Data[i] /= t
		}
	}
	if !info.MultiLabel {
		return nn.Softmax(z)
	}
	for i, v := range z.Data {
		z.Data[i] = float32(1 / (1 + math.Exp(-float64(v))))
	}
	return z
}

// dihedral writes into dst the images of src [N, S, S, C] rotated by k%4
// quarter turns, and mirrored left-right when k >= 4.
func dihedral(dst, src *tensor.Tensor, k int) {
	n, s, c := src.Dim(0), src.Dim(1), src.Dim(3)
	in, out := src.Values(), dst.Values()
	tensor.Parallel(n, 1, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			base := i * s * s * c
			for y := 0; y < s; y++ {
				for x := 0; x < s; x++ {
					sy, sx := y, x
					if k >= 4 {
						sx = s - 1 - sx
					}
					for r := 0; r < k%4; r++ {
						sy, sx = s-1-sx, sy
					}
					copy(out[base+(y*s+x)*c:base+(y*s+x+1)*c], in[base+(sy*s+sx)*c:])
				}
			}
		}
	})
}
