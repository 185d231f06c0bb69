package train

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"

	"github.com/deepscope/deepscope/models"
	"github.com/deepscope/deepscope/nn"
	"github.com/deepscope/deepscope/tensor"
)

// Model is a trained network loaded from a run directory, with everything
// needed to prepare images for it exactly as training did.
type Model struct {
	Dir  string
	Info *RunInfo
	Net  nn.Module
	// Weights is the file the weights came from (best.safetensors, or the
	// last checkpoint of a run that never validated).
	Weights string

	batch *tensor.Tensor
	tta   *tensor.Tensor
}

// Load reads a run directory's model: its best weights, in eval mode.
func Load(dir string) (*Model, error) {
	info, err := ReadRunInfo(dir)
	if err != nil {
		return nil, err
	}
	net, err := models.New(info.Config.Model, rand.New(rand.NewPCG(0, 0)), info.ModelSpec())
	if err != nil {
		return nil, err
	}
	m := &Model{Dir: dir, Info: info, Net: net, Weights: filepath.Join(dir, BestFile)}
	if _, err := os.Stat(m.Weights); err != nil {
		m.Weights = filepath.Join(dir, CheckpointFile)
		sd, _, err := nn.ReadStateFile(m.Weights)
		if err != nil {
			return nil, fmt.Errorf("train: %s holds no weights: %w", dir, err)
		}
		var model []nn.NamedTensor
		for _, t := range sd {
			if _, opt := strings.CutPrefix(t.Name, "optim."); !opt {
				model = append(model, t)
			}
		}
		if err := nn.LoadStateDict(net, model, true); err != nil {
			return nil, err
		}
	} else if err := nn.LoadFile(net, m.Weights); err != nil {
		return nil, err
	}
	nn.SetTraining(net, false)
	return m, nil
}

// Prepare turns a decoded image [H, W, C] in [0, 1] into the model's input
// [S, S, C]: the run's crop, resize, 8-bit rounding (as the training
// loader's cache holds images) and per-channel normalisation.
func (m *Model) Prepare(img *tensor.Tensor) *tensor.Tensor {
	out := m.Info.Preprocess().Apply(img).Clone()
	c := out.Dim(-1)
	mean, std := m.Info.Mean, m.Info.Std
	for i, v := range out.Data {
		q := float32(math.Round(float64(min(max(v, 0), 1))*255)) / 255
		if k := i % c; k < len(std) {
			q = (q - mean[k]) / std[k]
		}
		out.Data[i] = q
	}
	return out
}

// Predict returns class probabilities for decoded images (any size; each
// is prepared with Prepare), one row per image. With tta the run's
// test-time augmentation setting is overridden to on.
func (m *Model) Predict(imgs []*tensor.Tensor, tta bool) [][]float64 {
	s, c := m.Info.Config.Size, m.Info.Channels
	out := make([][]float64, 0, len(imgs))
	const chunk = 64
	for lo := 0; lo < len(imgs); lo += chunk {
		hi := min(lo+chunk, len(imgs))
		x := tensor.Ensure(&m.batch, hi-lo, s, s, c)
		for i := lo; i < hi; i++ {
			copy(x.Data[(i-lo)*s*s*c:], m.Prepare(imgs[i]).Data)
		}
		p := Probabilities(m.Net, x, m.Info, tta, &m.tta)
		k := p.Dim(1)
		for i := 0; i < hi-lo; i++ {
			row := make([]float64, k)
			for j := range row {
				row[j] = float64(p.Data[i*k+j])
			}
			out = append(out, row)
		}
	}
	return out
}
