package fl

import (
	"context"
	"fmt"
	"math"
	"slices"

	"github.com/deepscope/deepscope/data"
	"github.com/deepscope/deepscope/nn"
	"github.com/deepscope/deepscope/optim"
	"github.com/deepscope/deepscope/train"
)

// LocalConfig is how a client trains the global model on its own images
// in one round. The server sends it with every round, so all clients train
// alike and the learning rate can follow a schedule over the rounds.
type LocalConfig struct {
	Epochs         int     `json:"epochs"`    // passes over the client's training images
	Batch          int     `json:"batch"`     // images per step (a smaller client uses all it has)
	Optimizer      string  `json:"optimizer"` // adamw or sgd (momentum 0.9 unless Momentum is set)
	LR             float64 `json:"lr"`
	WeightDecay    float64 `json:"weight_decay"`
	Momentum       float64 `json:"momentum,omitempty"`
	Mu             float64 `json:"mu,omitempty"`      // FedProx: weight of (mu/2)·||w - w_global||²
	Augment        string  `json:"augment"`           // none, light, standard or strong (see train.Augmentation)
	LabelSmoothing float64 `json:"label_smoothing"`   // as in train.Config
	Clip           float64 `json:"clip,omitempty"`    // clip the update to this L2 norm before masking (secure aggregation with DP)
	Workers        int     `json:"workers,omitempty"` // image decoding goroutines; 0: one per core
}

// DefaultLocal returns one epoch of AdamW per round with train's defaults.
func DefaultLocal() LocalConfig {
	return LocalConfig{Epochs: 1, Batch: 64, Optimizer: "adamw", LR: 2e-3, WeightDecay: 0.05, Augment: "standard", LabelSmoothing: 0.1}
}

// Validate reports a setting out of range.
func (c LocalConfig) Validate() error {
	bad := func(field string, v any, want string) error { return fmt.Errorf("fl: local %s %v: %s", field, v, want) }
	switch {
	case c.Epochs < 1:
		return bad("epochs", c.Epochs, "want at least 1")
	case c.Batch < 2:
		return bad("batch", c.Batch, "want at least 2 (batch norm needs 2 images)")
	case !(c.LR > 0):
		return bad("lr", c.LR, "want > 0")
	case c.WeightDecay < 0 || c.Momentum < 0 || c.Momentum >= 1:
		return fmt.Errorf("fl: local weight decay %g and momentum %g: want >= 0 and momentum < 1", c.WeightDecay, c.Momentum)
	case c.Mu < 0 || math.IsNaN(c.Mu):
		return bad("mu", c.Mu, "want >= 0")
	case c.LabelSmoothing < 0 || c.LabelSmoothing >= 1:
		return bad("label smoothing", c.LabelSmoothing, "want [0, 1)")
	case c.Clip < 0:
		return bad("clip", c.Clip, "want >= 0")
	case c.Optimizer != "adamw" && c.Optimizer != "sgd":
		return bad("optimizer", c.Optimizer, "want adamw or sgd")
	case !slices.Contains([]string{"none", "light", "standard", "strong"}, c.Augment):
		return bad("augment", c.Augment, "want none, light, standard or strong")
	}
	return nil
}

// LocalStats is what a round of local training did.
type LocalStats struct {
	Loss   float64 // mean training loss over the round's steps
	Steps  int
	Images int
}

// TrainLocal trains m, which holds the global weights, on the batches of l
// for cfg.Epochs epochs with a fresh optimizer, adding FedProx's proximal
// gradient mu·(w - w_global) when cfg.Mu > 0. round numbers the epochs
// (round·Epochs + e) so every round draws new shuffles and augmentations,
// and seeds the dropout masks with seed. m is left in training mode.
func TrainLocal(ctx context.Context, m nn.Module, l *data.Loader, cfg LocalConfig, round int, seed uint64) (LocalStats, error) {
	var st LocalStats
	if err := cfg.Validate(); err != nil {
		return st, err
	}
	opt, err := newOptimizer(m, cfg)
	if err != nil {
		return st, err
	}
	var anchors [][]float32
	if cfg.Mu > 0 {
		for _, p := range opt.Params() {
			anchors = append(anchors, slices.Clone(p.Value.Values()))
		}
	}
	ce := nn.CrossEntropy{LabelSmoothing: float32(cfg.LabelSmoothing)}
	nn.SetTraining(m, true)
	var lossSum float64
	for e := range cfg.Epochs {
		for b, err := range l.Epoch(round*cfg.Epochs+e, 0) {
			if err != nil {
				return st, err
			}
			if err := ctx.Err(); err != nil {
				return st, err
			}
			if slices.Contains(b.Labels, -1) {
				return st, fmt.Errorf("fl: multi-label data is not supported")
			}
			nn.Seed(m, seed*0x9E3779B97F4A7C15+uint64(st.Steps))
			opt.ZeroGrad()
			loss := ce.Forward(m.Forward(b.X), b.Labels)
			if math.IsNaN(float64(loss)) || math.IsInf(float64(loss), 0) {
				return st, fmt.Errorf("fl: local loss is %v at step %d: lower the learning rate", loss, st.Steps+1)
			}
			m.Backward(ce.Backward())
			if cfg.Mu > 0 {
				mu := float32(cfg.Mu)
				for i, p := range opt.Params() {
					g, w := p.Grad.Values(), p.Value.Values()
					for j, a := range anchors[i] {
						g[j] += mu * (w[j] - a)
					}
				}
			}
			opt.Step()
			lossSum += float64(loss)
			st.Steps++
			st.Images += len(b.Labels)
		}
	}
	if st.Steps == 0 {
		return st, fmt.Errorf("fl: %d training images make no batch", l.Len())
	}
	st.Loss = lossSum / float64(st.Steps)
	return st, nil
}

func newOptimizer(m nn.Module, cfg LocalConfig) (optim.Optimizer, error) {
	if cfg.Optimizer == "sgd" {
		mom := cfg.Momentum
		if mom == 0 {
			mom = 0.9
		}
		return optim.NewSGD(m, optim.SGDConfig{LR: cfg.LR, Momentum: mom, Nesterov: true, WeightDecay: cfg.WeightDecay, SkipNoDecay: true})
	}
	return optim.NewAdamW(m, optim.AdamConfig{LR: cfg.LR, WeightDecay: cfg.WeightDecay, SkipNoDecay: true})
}

// trainLoader returns the shuffling, augmenting loader of a client's
// training images. Batches smaller than cfg.Batch are dropped, except that
// a client with fewer images than cfg.Batch trains on one batch of all.
func trainLoader(ds *data.Dataset, pre data.Preprocess, norm data.Normalize, cfg LocalConfig, seed uint64) (*data.Loader, error) {
	if ds.Len() < 2 {
		return nil, fmt.Errorf("fl: %d training images: at least 2 are needed", ds.Len())
	}
	return data.NewLoader(ds, data.LoaderConfig{BatchSize: min(cfg.Batch, ds.Len()), Shuffle: true, Seed: seed,
		Workers: cfg.Workers, Preprocess: pre, Transform: train.Augmentation(cfg.Augment, pre.Size),
		Normalize: norm, DropLast: true, Cache: true})
}

// evalLoader returns an in-order loader without augmentation.
func evalLoader(ds *data.Dataset, pre data.Preprocess, norm data.Normalize, workers int) (*data.Loader, error) {
	return data.NewLoader(ds, data.LoaderConfig{BatchSize: 128, Workers: workers, Preprocess: pre, Normalize: norm, Cache: true})
}

// Accuracy runs m in evaluation mode over l and returns how many images it
// classifies correctly, out of how many. m is left in evaluation mode.
func Accuracy(m nn.Module, l *data.Loader) (correct, total int, err error) {
	nn.SetTraining(m, false)
	for b, err := range l.Epoch(0, 0) {
		if err != nil {
			return 0, 0, err
		}
		logits := m.Forward(b.X)
		k := logits.Dim(-1)
		v := logits.Contiguous().Values()
		for i, y := range b.Labels {
			row := v[i*k : (i+1)*k]
			best := 0
			for j, x := range row {
				if x > row[best] {
					best = j
				}
			}
			if best == y {
				correct++
			}
			total++
		}
	}
	return correct, total, nil
}
