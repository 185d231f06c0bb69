package netstate

import (
	"fmt"

	"github.com/deepscope/deepscope/cuda"
	"github.com/deepscope/deepscope/nn"
)

// Unit is a convolution followed by batch norm, with a residual optionally
// added before the batch norm's ReLU: the layer both GPU networks are
// built of (cuda/resnet's stem and block convolutions, cuda/unet's double
// convolutions).
type Unit struct {
	Shape cuda.ConvShape
	Conv  *cuda.Conv
	W, DW cuda.Mem // the convolution's weight and its gradient, views into the State
	BN    *cuda.BatchNorm
	ReLU  bool
	Rows  int      // output rows, N*OH*OW
	X     cuda.Mem // input of the last Forward
	Y, Z  cuda.Mem // convolution and batch-norm outputs
	DY    cuda.Mem // gradient at the convolution's output
}

// Unit plans c followed by bn on batches of n h×w maps: the convolution,
// views of its weight and of bn's parameters and statistics, and the
// unit's outputs and gradient, all owned by s. The convolution must be
// ungrouped and without bias (batch norm's shift takes the bias's place).
func (s *State) Unit(c *nn.Conv2d, bn *nn.BatchNorm2d, n, h, w int) (*Unit, error) {
	cfg := c.Config()
	if cfg.Groups != 1 || c.Bias != nil {
		return nil, fmt.Errorf("cuda: grouped or biased convolutions are not supported on the GPU")
	}
	sh := cuda.ConvShape{N: n, H: h, W: w, In: cfg.In, Out: cfg.Out, Kernel: cfg.Kernel, Stride: cfg.Stride, Padding: cfg.Padding}
	oh, ow := sh.OutSize()
	u := &Unit{Shape: sh, ReLU: bn.ReLU, Rows: n * oh * ow}
	var err error
	if u.Conv, err = s.Conv(sh); err != nil {
		return nil, err
	}
	u.W, u.DW, _ = s.View(c.Weight)
	if u.BN, err = s.BatchNorm(bn); err != nil {
		return nil, err
	}
	for _, m := range []*cuda.Mem{&u.Y, &u.Z, &u.DY} {
		if *m, err = s.Alloc(u.Rows * cfg.Out); err != nil {
			return nil, err
		}
	}
	return u, nil
}

// Forward runs conv → bn (+ res, when res.Ptr is not 0) → ReLU (when
// u.ReLU) on x, leaving the output in u.Z (queued).
func (u *Unit) Forward(d *cuda.Device, x, res cuda.Mem, training bool) {
	u.X = x
	u.Conv.Forward(d, x, u.W, u.Y, 0)
	u.BN.Forward(d, u.Y, res, u.Z, u.Rows, training, u.ReLU)
}

// Backward takes the gradient dz at u's output and adds the weight
// gradient; the gradient at its input goes to dx (added to it when beta is
// 1), or nowhere when dx.Ptr is 0. With addReLU (a residual was added
// before a ReLU), the ReLU-masked gradient is also written to dres, the
// residual's gradient.
func (u *Unit) Backward(d *cuda.Device, dz, dres, dx cuda.Mem, beta float32, addReLU bool) {
	u.BN.Backward(d, u.Y, u.Z, dz, dres, u.DY, u.Rows, u.ReLU || addReLU)
	u.Conv.BackwardFilter(d, u.X, u.DY, u.DW, 1)
	if dx.Ptr != 0 {
		u.Conv.BackwardData(d, u.W, u.DY, dx, beta)
	}
}
