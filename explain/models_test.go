package explain

import (
	"math/rand/v2"

	"github.com/deepscope/deepscope/nn"
	"github.com/deepscope/deepscope/tensor"
)

// camNet is a tiny network split into features and head: a convolution
// (kernel k, stride s), an activation, global average pooling and a linear
// layer. It stands in for a ResNet in the tests, small enough to set by
// hand.
type camNet struct {
	Conv *nn.Conv2d
	Act  nn.Module
	Pool *nn.GlobalAvgPool
	FC   *nn.Linear
}

func newCamNet(rng *rand.Rand, in, feat, classes, k, s int, act nn.Module) *camNet {
	return &camNet{
		Conv: nn.NewConv2d(rng, nn.ConvConfig{In: in, Out: feat, Kernel: k, Stride: s, Padding: (k - s) / 2, Bias: true}),
		Act:  act, Pool: &nn.GlobalAvgPool{}, FC: nn.NewLinear(rng, feat, classes, true),
	}
}

func (n *camNet) Children() []nn.Child {
	return []nn.Child{{Name: "conv", Module: n.Conv}, {Name: "fc", Module: n.FC}}
}
func (n *camNet) Features(x *tensor.Tensor) *tensor.Tensor { return n.Act.Forward(n.Conv.Forward(x)) }
func (n *camNet) Head(f *tensor.Tensor) *tensor.Tensor     { return n.FC.Forward(n.Pool.Forward(f)) }
func (n *camNet) HeadBackward(dy *tensor.Tensor) *tensor.Tensor {
	return n.Pool.Backward(n.FC.Backward(dy))
}
func (n *camNet) Forward(x *tensor.Tensor) *tensor.Tensor { return n.Head(n.Features(x)) }
func (n *camNet) Backward(dy *tensor.Tensor) *tensor.Tensor {
	return n.Conv.Backward(n.Act.Backward(n.HeadBackward(dy)))
}

// colourNet returns a camNet whose class c (c < 3) is the evidence of
// colour channel c: a 2x2 stride-2 convolution with feature j summing
// channel j - 0.5 over the window, ReLU, pooling, and a linear layer that
// maps feature j to class j with weight 8. An image that is grey (0.5)
// except for a bright patch of channel c is then class c because of that
// patch alone.
func colourNet() *camNet {
	rng := rand.New(rand.NewPCG(1, 1))
	n := newCamNet(rng, 3, 3, 3, 2, 2, &nn.ReLU{})
	w := n.Conv.Weight.Value
	w.Zero()
	for j := 0; j < 3; j++ {
		for ky := 0; ky < 2; ky++ {
			for kx := 0; kx < 2; kx++ {
				w.Set(1, j, j, ky, kx)
			}
		}
		n.Conv.Bias.Value.Data[j] = -2.4 // 4 taps of 0.5, and a margin for noise
	}
	n.FC.Weight.Value.Zero()
	n.FC.Bias.Value.Zero()
	for j := 0; j < 3; j++ {
		n.FC.Weight.Value.Set(8, j, j)
	}
	return n
}

// patchImage returns a grey image [1, s, s, 3] with a square of side p at
// (y0, x0) whose channel c is 1, and mild noise everywhere (seeded).
func patchImage(s, y0, x0, p, c int, seed uint64) *tensor.Tensor {
	rng := rand.New(rand.NewPCG(seed, 9))
	x := tensor.New(1, s, s, 3)
	for i := range x.Data {
		x.Data[i] = 0.5 + 0.05*float32(rng.NormFloat64())
	}
	for y := y0; y < y0+p; y++ {
		for xx := x0; xx < x0+p; xx++ {
			x.Data[(y*s+xx)*3+c] = 1
		}
	}
	return x
}

// massIn returns the share of the positive mass of heat [s, s] that lies
// in the square of side p at (y0, x0).
func massIn(heat *tensor.Tensor, y0, x0, p int) float64 {
	s := heat.Dim(1)
	var in, all float64
	for y := 0; y < heat.Dim(0); y++ {
		for x := 0; x < s; x++ {
			v := float64(max(heat.Data[y*s+x], 0))
			all += v
			if y >= y0 && y < y0+p && x >= x0 && x < x0+p {
				in += v
			}
		}
	}
	if all == 0 {
		return 0
	}
	return in / all
}

// argmax returns the index of the largest value.
func argmax(v []float32) int {
	b := 0
	for i, x := range v {
		if x > v[b] {
			b = i
		}
	}
	return b
}
