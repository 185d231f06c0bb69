package models

import (
	"math/rand/v2"

	"github.com/deepscope/deepscope/nn"
	"github.com/deepscope/deepscope/tensor"
)

// UNet is the encoder-decoder of Ronneberger et al. (2015) for per-pixel
// classification: double 3x3 convolutions with batch norm at each level,
// max-pooling down, transposed convolutions up, and skip connections that
// concatenate the encoder's maps to the decoder's. It maps [N, H, W, C]
// (H and W divisible by 2^Depth) to logits [N, H, W, Classes].
type UNet struct {
	Inc   *nn.Sequential
	Downs []*down
	Ups   []*up
	Out   *nn.Conv2d

	skips []*tensor.Tensor
}

// UNetConfig chooses a U-Net: Base channels at the top level, doubled at
// each of Depth levels down.
type UNetConfig struct {
	InChannels, Classes, Base, Depth int
}

// NewUNet builds a U-Net from cfg with weights drawn from rng.
func NewUNet(rng *rand.Rand, cfg UNetConfig) *UNet {
	if cfg.Base == 0 {
		cfg.Base = 32
	}
	if cfg.Depth == 0 {
		cfg.Depth = 4
	}
	u := &UNet{Inc: doubleConv(rng, cfg.InChannels, cfg.Base)}
	c := cfg.Base
	for i := 0; i < cfg.Depth; i++ {
		u.Downs = append(u.Downs, &down{Pool: nn.NewMaxPool2d(2, 2, 0), Conv: doubleConv(rng, c, 2*c)})
		c *= 2
	}
	for i := 0; i < cfg.Depth; i++ {
		u.Ups = append(u.Ups, &up{
			Up:   nn.NewConvTranspose2d(rng, nn.ConvTransposeConfig{ConvConfig: nn.ConvConfig{In: c, Out: c / 2, Kernel: 2, Stride: 2, Bias: true}}),
			Conv: doubleConv(rng, c, c/2),
		})
		c /= 2
	}
	u.Out = nn.NewConv2d(rng, nn.ConvConfig{In: c, Out: cfg.Classes, Kernel: 1, Bias: true})
	return u
}

// doubleConv is (3x3 conv, batch norm, ReLU) twice, with each ReLU fused
// into its batch norm.
func doubleConv(rng *rand.Rand, in, out int) *nn.Sequential {
	return nn.NewSequential(
		nn.NewConv2d(rng, nn.ConvConfig{In: in, Out: out, Kernel: 3, Padding: 1}), bnReLU(out),
		nn.NewConv2d(rng, nn.ConvConfig{In: out, Out: out, Kernel: 3, Padding: 1}), bnReLU(out))
}

// bnReLU returns a batch norm over c channels with a ReLU fused in.
func bnReLU(c int) *nn.BatchNorm2d {
	b := nn.NewBatchNorm2d(c)
	b.ReLU = true
	return b
}

// Children names the parts inc, down1.., up1.., outc.
func (u *UNet) Children() []nn.Child {
	cs := []nn.Child{{Name: "inc", Module: u.Inc}}
	for i, d := range u.Downs {
		cs = append(cs, nn.Child{Name: "down" + itoa(i+1), Module: d})
	}
	for i, p := range u.Ups {
		name := "up" + itoa(i+1)
		cs = append(cs, nn.Child{Name: name + ".up", Module: p.Up}, nn.Child{Name: name + ".conv", Module: p.Conv})
	}
	return append(cs, nn.Child{Name: "outc", Module: u.Out})
}

// Forward maps images to per-pixel logits.
func (u *UNet) Forward(x *tensor.Tensor) *tensor.Tensor {
	u.skips = u.skips[:0]
	h := u.Inc.Forward(x)
	for _, d := range u.Downs {
		u.skips = append(u.skips, h)
		h = d.Forward(h)
	}
	for i, p := range u.Ups {
		h = p.forward(h, u.skips[len(u.skips)-1-i])
	}
	return u.Out.Forward(h)
}

// Backward returns dL/dx for the last Forward, accumulating all gradients.
func (u *UNet) Backward(dy *tensor.Tensor) *tensor.Tensor {
	d := u.Out.Backward(dy)
	dskips := make([]*tensor.Tensor, len(u.Ups))
	for i := len(u.Ups) - 1; i >= 0; i-- {
		d, dskips[i] = u.Ups[i].backward(d)
	}
	for i := len(u.Downs) - 1; i >= 0; i-- {
		d = u.Downs[i].Backward(d)
		addInto(d, d, dskips[len(u.Ups)-1-i])
	}
	return u.Inc.Backward(d)
}

// down is one encoder level: max-pool then double convolution.
type down struct {
	Pool *nn.MaxPool2d
	Conv *nn.Sequential
}

func (d *down) Children() []nn.Child { return []nn.Child{{Name: "conv", Module: d.Conv}} }
func (d *down) Forward(x *tensor.Tensor) *tensor.Tensor {
	return d.Conv.Forward(d.Pool.Forward(x))
}
func (d *down) Backward(dy *tensor.Tensor) *tensor.Tensor {
	return d.Pool.Backward(d.Conv.Backward(dy))
}

// up is one decoder level: transposed convolution doubling the size,
// concatenation with the encoder's skip map, double convolution.
type up struct {
	Up   *nn.ConvTranspose2d
	Conv *nn.Sequential

	cat, dup, dskip *tensor.Tensor
}

func (p *up) forward(x, skip *tensor.Tensor) *tensor.Tensor {
	h := p.Up.Forward(x)
	s := skip.Shape
	cat := tensor.Ensure(&p.cat, s[0], s[1], s[2], s[3]+h.Dim(-1))
	concatChannels(cat, skip, h)
	return p.Conv.Forward(cat)
}

func (p *up) backward(dy *tensor.Tensor) (dx, dskip *tensor.Tensor) {
	d := p.Conv.Backward(dy)
	s := d.Shape
	c := p.Up.Weight.Value.Shape[1] // transposed conv weight: [in, out, k, k]
	dskip = tensor.Ensure(&p.dskip, s[0], s[1], s[2], s[3]-c)
	dup := tensor.Ensure(&p.dup, s[0], s[1], s[2], c)
	splitChannels(dskip, dup, d)
	return p.Up.Backward(dup), dskip
}
