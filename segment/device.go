package segment

import (
	"fmt"
	"io"

	"github.com/deepscope/deepscope/cuda"
	"github.com/deepscope/deepscope/cuda/netstate"
	"github.com/deepscope/deepscope/cuda/unet"
	"github.com/deepscope/deepscope/tensor"
)

// Devices a run can train on (Options.Device).
const (
	DeviceCPU  = "cpu"
	DeviceCUDA = "cuda"
)

// gpu is a run's U-Net on a CUDA device (Options.Device "cuda"). The CPU
// model and optimizer stay the run's record: sync copies the device's
// weights, statistics and optimizer state into them before anything
// reads them (validation, checkpoints, tuning).
type gpu struct {
	net   *unet.Net
	dirty bool // the device holds steps the CPU model has not seen
}

// checkDevice returns an error, before anything is written, when opt asks
// for a device that is not there or cfg for what the GPU does not run.
func checkDevice(cfg Config, opt Options) error {
	switch opt.Device {
	case "", DeviceCPU:
		return nil
	case DeviceCUDA:
	default:
		return fmt.Errorf("segment: device %q: want %q or %q", opt.Device, DeviceCPU, DeviceCUDA)
	}
	switch {
	case cfg.Head == HeadStar:
		return fmt.Errorf("segment: device cuda trains the %q and %q heads; the %q head trains on the CPU", HeadClasses, HeadHV, cfg.Head)
	case cfg.ContactWeight > 0:
		return fmt.Errorf("segment: device cuda: --contact-weight trains on the CPU only")
	case cfg.Base%4 != 0:
		return fmt.Errorf("segment: device cuda: --base %d: the GPU's batch norm needs a multiple of 4 channels", cfg.Base)
	}
	n, err := cuda.Count()
	if err != nil {
		return fmt.Errorf("segment: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("segment: device cuda: the driver sees no GPU")
	}
	return nil
}

// newGPU moves the trainer's model and optimizer, in whatever state they
// are (fresh or resumed), to the first GPU.
func newGPU(tr *trainer, log io.Writer) (*gpu, error) {
	d, err := cuda.Open(0)
	if err != nil {
		return nil, fmt.Errorf("segment: %w", err)
	}
	cfg := tr.cfg
	net, err := unet.New(d, tr.model.Net, cfg.Batch, cfg.Size, cfg.InChannels())
	if err != nil {
		d.Close()
		return nil, fmt.Errorf("segment: device cuda: %w", err)
	}
	net.ClassWeights = tr.classW
	if err := net.SetOptimizer(netstate.Optimizer{Kind: "adamw", WeightDecay: cfg.WeightDecay, SkipNoDecay: true}, tr.optim); err != nil {
		net.Close()
		d.Close()
		return nil, fmt.Errorf("segment: device cuda: %w", err)
	}
	fmt.Fprintf(log, "training on %s (cuda, compute capability %d.%d, TF32 %v)\n", d.Name, d.Major, d.Minor, d.TF32)
	return &gpu{net: net}, nil
}

// step runs one training step on the device with the crops and targets
// the trainer filled.
func (g *gpu) step(tr *trainer, lr float64) (float32, error) {
	g.dirty = true
	loss, err := g.net.TrainStep(tr.x, tr.t, lr)
	if err != nil {
		return 0, fmt.Errorf("segment: device cuda: %w", err)
	}
	return loss, nil
}

// stepHV runs one training step of the hv head on the device, its loss
// (hvLoss, whose maps' terms the device has no kernel for) on the host.
func (g *gpu) stepHV(tr *trainer, lr float64) (float32, error) {
	g.dirty = true
	n := len(tr.t)
	loss, err := g.net.TrainStepLoss(tr.x, lr, func(out *tensor.Tensor) (float32, *tensor.Tensor) {
		l := tr.hv.Forward(out, tr.t, tr.ht[:2*n])
		return l, tr.hv.Backward()
	})
	if err != nil {
		return 0, fmt.Errorf("segment: device cuda: %w", err)
	}
	return loss, nil
}

// sync copies the device's state into the CPU model and optimizer.
func (g *gpu) sync() error {
	if g == nil || !g.dirty {
		return nil
	}
	if err := g.net.Store(); err != nil {
		return fmt.Errorf("segment: device cuda: %w", err)
	}
	g.dirty = false
	return nil
}

// close frees the device's memory and context.
func (g *gpu) close() {
	if g == nil {
		return
	}
	d := g.net.Device()
	g.net.Close()
	d.Close()
}
