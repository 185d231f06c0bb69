package train

import (
	"fmt"

	"github.com/deepscope/deepscope/cuda"
	"github.com/deepscope/deepscope/cuda/netstate"
	"github.com/deepscope/deepscope/cuda/resnet"
	"github.com/deepscope/deepscope/data"
	"github.com/deepscope/deepscope/nn"
	"github.com/deepscope/deepscope/tensor"
)

// gpu is a session's network on a CUDA device (Config.Device "cuda"). The
// CPU model and optimizer stay the run's record: sync copies the device's
// weights, statistics and optimizer state into them before anything reads
// them (validation, checkpoints, histograms).
type gpu struct {
	net   *resnet.Net
	err   error // first failure of a step or of validation
	dirty bool  // the device holds steps the CPU model has not seen
}

// checkDevice returns an error before anything is written when cfg asks
// for a GPU that is not there.
func checkDevice(cfg Config) error {
	if cfg.Device != "cuda" {
		return nil
	}
	n, err := cuda.Count()
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("train: device cuda: the driver sees no GPU")
	}
	return nil
}

// newGPU moves the session's model and optimizer to the first GPU.
func newGPU(s *session) (*gpu, error) {
	cfg := s.cfg
	switch {
	case cfg.DP:
		return nil, fmt.Errorf("train: device cuda: differentially private training runs on the CPU only")
	case s.balance != nil:
		return nil, fmt.Errorf("train: device cuda: balance_by runs on the CPU only")
	case s.info.MultiLabel:
		return nil, fmt.Errorf("train: device cuda: multi-label data trains on the CPU only")
	}
	d, err := cuda.Open(0)
	if err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	net, err := resnet.New(d, s.model, cfg.Batch, cfg.Size, s.info.Channels)
	if err != nil {
		d.Close()
		return nil, fmt.Errorf("train: device cuda: %w", err)
	}
	net.LabelSmoothing = float32(cfg.LabelSmoothing)
	net.ClipNorm = cfg.ClipNorm
	o := netstate.Optimizer{Kind: cfg.Optimizer, WeightDecay: cfg.WeightDecay, SkipNoDecay: cfg.Optimizer != "adam"}
	if cfg.Optimizer == "sgd" {
		o.Momentum, o.Nesterov = cfg.Momentum, true
		if o.Momentum == 0 {
			o.Momentum = 0.9
		}
	}
	if err := net.SetOptimizer(o, s.optim); err != nil {
		d.Close()
		return nil, fmt.Errorf("train: device cuda: %w", err)
	}
	fmt.Fprintf(s.log, "training on %s (cuda, compute capability %d.%d, TF32 on)\n", d.Name, d.Major, d.Minor)
	return &gpu{net: net}, nil
}

// step runs one training step of batch b on the device.
func (g *gpu) step(s *session, b *data.Batch, step int) float32 {
	if g.err != nil {
		return 0
	}
	g.dirty = true
	loss, err := g.net.TrainStep(b.X, b.Labels, s.optim.LR(), s.cfg.Seed*0x9E3779B97F4A7C15+uint64(step))
	if err != nil {
		g.err = fmt.Errorf("train: device cuda: step %d: %w", step+1, err)
	}
	return loss
}

// sync copies the device's state into the CPU model and optimizer.
func (g *gpu) sync() error {
	if g.err != nil || !g.dirty {
		return g.err
	}
	if err := g.net.Store(); err != nil {
		g.err = fmt.Errorf("train: device cuda: %w", err)
		return g.err
	}
	g.dirty = false
	return nil
}

// syncDevice brings the CPU model up to date when training runs on a GPU.
func (s *session) syncDevice() error {
	if s.gpu == nil {
		return nil
	}
	return s.gpu.sync()
}

// evalModel is the module validation runs: the GPU's network when there
// is one, else the CPU model.
func (s *session) evalModel() nn.Module {
	if s.gpu == nil {
		return s.model
	}
	return deviceModule{s.gpu}
}

// deviceModule presents the GPU's network as an evaluation-only nn.Module.
type deviceModule struct{ g *gpu }

// Forward returns the evaluation-mode logits; a device failure is kept in
// the gpu's err (checked after validation) and gives zeros.
func (m deviceModule) Forward(x *tensor.Tensor) *tensor.Tensor {
	out, err := m.g.net.Logits(x)
	if err != nil {
		if m.g.err == nil {
			m.g.err = fmt.Errorf("train: device cuda: validation: %w", err)
		}
		return tensor.New(x.Dim(0), m.g.net.Classes)
	}
	return out
}

// Backward is not available: the device module only evaluates.
func (m deviceModule) Backward(dy *tensor.Tensor) *tensor.Tensor {
	panic("train: the GPU network is used for evaluation only here")
}
