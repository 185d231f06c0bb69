package models

import (
	"math"
	"math/rand/v2"

	"github.com/deepscope/deepscope/nn"
	"github.com/deepscope/deepscope/tensor"
)

// ResNet is the residual network of He et al. (2016) in torchvision's layout:
// conv1, bn1, (maxpool), layer1..layer4 of residual blocks, global average
// pooling and fc. Parameter names match torchvision's state_dict
// ("layer1.0.conv1.weight", "layer2.0.downsample.0.weight", "fc.bias").
type ResNet struct {
	Conv1   *nn.Conv2d
	BN1     Norm          // with the stem's ReLU fused in
	MaxPool *nn.MaxPool2d // nil in the MedMNIST variant
	Layers  [4]*nn.Sequential
	Pool    *nn.GlobalAvgPool
	Drop    *nn.Dropout // nil unless dropout before fc was asked for
	FC      *nn.Linear

	grads []*tensor.Arena // the blocks' shared gradient storage; nil when not shared
}

// ResNetConfig chooses a ResNet variant.
type ResNetConfig struct {
	Blocks     [4]int // residual blocks per stage: {2,2,2,2} for ResNet-18
	Bottleneck bool   // bottleneck blocks with expansion 4 (ResNet-50 and deeper)
	Classes    int
	InChannels int
	// SmallInput selects the MedMNIST stem: a 3x3 stride-1 convolution and
	// no max-pool, for 28-64 px inputs. Otherwise the ImageNet stem: 7x7
	// stride 2 and a 3x3 stride-2 max-pool.
	SmallInput bool
	StemStride int     // stride of the small-input stem; 0 means 1
	Width      int     // channels of the first stage; 64 in the paper
	Dropout    float64 // dropout before fc; 0 for none
	// TorchInit re-initialises convolutions with Kaiming normal (fan_out),
	// as torchvision does; otherwise PyTorch's layer defaults stay, as in
	// the MedMNIST reference code.
	TorchInit bool
	// Norm is "batch" (or "") for BatchNorm2d, "group" for GroupNorm.
	Norm string
}

// Norm is a ResNet's normalisation layer, with the ReLU after it fused in
// where one follows and the residual addition at a block's end:
// nn.BatchNorm2d, or nn.GroupNorm for training that needs per-sample
// gradients (DP-SGD), since batch norm mixes the samples of a batch.
type Norm interface {
	nn.Module
	ForwardAddReLU(x, res *tensor.Tensor) *tensor.Tensor
	BackwardAddReLU(dy *tensor.Tensor) (dx, dres *tensor.Tensor)
	// BackwardInPlace is Backward allowed to write dL/dx over dy; the
	// blocks call it on gradients they own.
	BackwardInPlace(dy *tensor.Tensor) *tensor.Tensor
}

// MaxGroups is the most groups a GroupNorm of a ResNet has: each layer of
// C channels takes the largest divisor of C up to 16, the grouping De et
// al. (2022) train their DP-SGD ResNets with.
const MaxGroups = 16

// newNorm returns the normalisation kind ("batch", "" or "group") names
// over c channels, with a fused ReLU if relu is set.
func newNorm(kind string, c int, relu bool) Norm {
	if kind == "group" {
		g := MaxGroups
		for c%g != 0 {
			g--
		}
		l := nn.NewGroupNorm(g, c)
		l.ReLU = relu
		return l
	}
	l := nn.NewBatchNorm2d(c)
	l.ReLU = relu
	return l
}

// NewResNet builds a ResNet from cfg with weights drawn from rng.
func NewResNet(rng *rand.Rand, cfg ResNetConfig) *ResNet {
	if cfg.Width == 0 {
		cfg.Width = 64
	}
	if cfg.InChannels == 0 {
		cfg.InChannels = 3
	}
	w := cfg.Width
	r := &ResNet{Pool: &nn.GlobalAvgPool{}}
	if cfg.SmallInput {
		r.Conv1 = nn.NewConv2d(rng, nn.ConvConfig{In: cfg.InChannels, Out: w, Kernel: 3, Stride: max(cfg.StemStride, 1), Padding: 1})
	} else {
		r.Conv1 = nn.NewConv2d(rng, nn.ConvConfig{In: cfg.InChannels, Out: w, Kernel: 7, Stride: 2, Padding: 3})
		r.MaxPool = nn.NewMaxPool2d(3, 2, 1)
	}
	r.BN1 = newNorm(cfg.Norm, w, true)
	in := w
	for s := 0; s < 4; s++ {
		width := w << s
		stride := 2
		if s == 0 {
			stride = 1
		}
		var blocks []nn.Module
		for b := 0; b < cfg.Blocks[s]; b++ {
			st := 1
			if b == 0 {
				st = stride
			}
			if cfg.Bottleneck {
				blocks = append(blocks, newBottleneck(rng, in, width, st, cfg.Norm))
				in = width * 4
			} else {
				blocks = append(blocks, newBasicBlock(rng, in, width, st, cfg.Norm))
				in = width
			}
		}
		r.Layers[s] = nn.NewSequential(blocks...)
	}
	if cfg.Dropout > 0 {
		r.Drop = nn.NewDropout(cfg.Dropout)
	}
	r.FC = nn.NewLinear(rng, in, cfg.Classes, true)
	if cfg.TorchInit {
		kaimingConvs(rng, r)
	}
	if !cfg.Bottleneck && (cfg.Norm == "" || cfg.Norm == "batch") {
		shareBlockGrads(r)
	}
	return r
}

// shareBlockGrads gives the gradients inside every basic block three
// arenas shared by all blocks, instead of map-sized buffers per block: the
// backward pass visits one block at a time and each gradient is consumed
// before the next block writes its own.
//
//   - flow holds the gradient passed from block to block. A block masks the
//     dy it receives there in place (the gradient of the sum before the
//     ReLU), runs the shortcut's backward, whose strided convolution writes
//     over it, and lets conv1 add its input gradient onto what flow holds:
//     that sum is the block's dx, in flow again for the block before.
//   - mid holds bn2's input gradient, then the shortcut's batch norm's.
//   - inner holds conv2's input gradient, which bn1 rewrites in place.
//
// The last block's dy is the head's (or a caller's): masking it into flow
// leaves it untouched. Group norm keeps each conv's dy for per-sample
// norms, so DP networks keep their own buffers.
func shareBlockGrads(r *ResNet) {
	var flow, mid, inner tensor.Arena
	r.grads = []*tensor.Arena{&flow, &mid, &inner}
	for _, layer := range r.Layers {
		for _, m := range layer.Layers {
			b, ok := m.(*BasicBlock)
			if !ok {
				continue
			}
			b.addShortcut = true
			b.BN2.(*nn.BatchNorm2d).ShareGrads(&mid, &flow)
			b.Conv2.ShareInputGrad(&inner)
			if b.Downsample != nil {
				b.Downsample.Layers[1].(*nn.BatchNorm2d).ShareGrads(&mid, nil)
				b.Downsample.Layers[0].(*nn.Conv2d).ShareInputGrad(&flow)
			}
		}
	}
}

// kaimingConvs redraws every convolution weight from N(0, 2/fan_out), the
// initialisation torchvision gives its ResNets.
func kaimingConvs(rng *rand.Rand, m nn.Module) {
	var visit func(nn.Module)
	visit = func(m nn.Module) {
		if c, ok := m.(*nn.Conv2d); ok {
			s := c.Weight.Value.Shape // [out, in/groups, k, k]
			std := math.Sqrt(2 / float64(s[0]*s[2]*s[3]))
			v := c.Weight.Value.Values()
			for i := range v {
				v[i] = float32(rng.NormFloat64() * std)
			}
		}
		if p, ok := m.(nn.Parent); ok {
			for _, c := range p.Children() {
				visit(c.Module)
			}
		}
	}
	visit(m)
}

// Children names the parts as torchvision does.
func (r *ResNet) Children() []nn.Child {
	cs := []nn.Child{{Name: "conv1", Module: r.Conv1}, {Name: "bn1", Module: r.BN1}}
	for i, l := range r.Layers {
		cs = append(cs, nn.Child{Name: "layer" + string(rune('1'+i)), Module: l})
	}
	if r.Drop != nil {
		cs = append(cs, nn.Child{Name: "dropout", Module: r.Drop})
	}
	return append(cs, nn.Child{Name: "fc", Module: r.FC})
}

// Forward maps images [N, H, W, C] to logits [N, classes].
func (r *ResNet) Forward(x *tensor.Tensor) *tensor.Tensor {
	return r.Head(r.Features(x))
}

// Backward returns dL/dx for the last Forward, accumulating all gradients.
func (r *ResNet) Backward(dy *tensor.Tensor) *tensor.Tensor {
	return r.FeaturesBackward(r.HeadBackward(dy))
}

// Features runs the network up to the last residual stage and returns its
// feature map [N, h, w, channels] (what Grad-CAM looks at).
func (r *ResNet) Features(x *tensor.Tensor) *tensor.Tensor {
	x = r.BN1.Forward(r.Conv1.Forward(x))
	if r.MaxPool != nil {
		x = r.MaxPool.Forward(x)
	}
	// The stem's output is the largest map any block's gradient has (each
	// stage halves the side and doubles the channels). Sizing the shared
	// storage for it now, before the backward pass visits the stages from
	// the smallest up, spares three smaller allocations that would be
	// garbage by the end of the first step.
	for _, a := range r.grads {
		a.Reserve(x.Len())
	}
	for _, l := range r.Layers {
		x = l.Forward(x)
	}
	return x
}

// FeaturesBackward takes dL/d(feature map) and returns dL/dx.
func (r *ResNet) FeaturesBackward(d *tensor.Tensor) *tensor.Tensor {
	for i := len(r.Layers) - 1; i >= 0; i-- {
		d = r.Layers[i].Backward(d)
	}
	if r.MaxPool != nil {
		d = r.MaxPool.Backward(d)
	}
	if r.ownsStemGrad() {
		return r.Conv1.Backward(r.BN1.BackwardInPlace(d))
	}
	return r.Conv1.Backward(r.BN1.Backward(d))
}

// ownsStemGrad reports whether the gradient reaching the stem was made by
// the network (a block or the max-pool), so the stem may write over it;
// with no block at all it is the caller's own dy.
func (r *ResNet) ownsStemGrad() bool {
	if r.MaxPool != nil {
		return true
	}
	for _, l := range r.Layers {
		if len(l.Layers) > 0 {
			return true
		}
	}
	return false
}

// Head maps a feature map to logits: global average pooling, dropout, fc.
func (r *ResNet) Head(f *tensor.Tensor) *tensor.Tensor {
	z := r.Pool.Forward(f)
	if r.Drop != nil {
		z = r.Drop.Forward(z)
	}
	return r.FC.Forward(z)
}

// HeadBackward takes dL/dlogits and returns dL/d(feature map).
func (r *ResNet) HeadBackward(dy *tensor.Tensor) *tensor.Tensor {
	d := r.FC.Backward(dy)
	if r.Drop != nil {
		d = r.Drop.Backward(d)
	}
	return r.Pool.Backward(d)
}

// BasicBlock is ResNet-18/34's residual block:
// relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)), where the shortcut is
// the identity or a strided 1x1 convolution with batch norm ("downsample").
type BasicBlock struct {
	Conv1, Conv2 *nn.Conv2d
	BN1, BN2     Norm           // BN1 with the inner ReLU fused in
	Downsample   *nn.Sequential // nil for the identity shortcut

	// addShortcut makes Backward add conv1's input gradient onto the
	// shortcut's gradient where it lies (Conv2d.BackwardAdd), saving a
	// buffer and a pass. shareBlockGrads sets it for batch-norm networks;
	// group norm's per-sample gradient norms (DP) read the layers' kept
	// gradients afterwards, so there the shortcut's stays untouched.
	addShortcut bool
}

func newBasicBlock(rng *rand.Rand, in, out, stride int, norm string) *BasicBlock {
	b := &BasicBlock{
		Conv1: nn.NewConv2d(rng, nn.ConvConfig{In: in, Out: out, Kernel: 3, Stride: stride, Padding: 1}),
		BN1:   newNorm(norm, out, true),
		Conv2: nn.NewConv2d(rng, nn.ConvConfig{In: out, Out: out, Kernel: 3, Stride: 1, Padding: 1}),
		BN2:   newNorm(norm, out, false),
	}
	if stride != 1 || in != out {
		b.Downsample = nn.NewSequential(
			nn.NewConv2d(rng, nn.ConvConfig{In: in, Out: out, Kernel: 1, Stride: stride}),
			newNorm(norm, out, false))
	}
	return b
}

// Children names the parts as torchvision does.
func (b *BasicBlock) Children() []nn.Child {
	cs := []nn.Child{{Name: "conv1", Module: b.Conv1}, {Name: "bn1", Module: b.BN1}, {Name: "conv2", Module: b.Conv2}, {Name: "bn2", Module: b.BN2}}
	if b.Downsample != nil {
		cs = append(cs, nn.Child{Name: "downsample", Module: b.Downsample})
	}
	return cs
}

// Forward computes the block's output.
func (b *BasicBlock) Forward(x *tensor.Tensor) *tensor.Tensor {
	s := x
	if b.Downsample != nil {
		s = b.Downsample.Forward(x)
	}
	return b.BN2.ForwardAddReLU(b.Conv2.Forward(b.BN1.Forward(b.Conv1.Forward(x))), s)
}

// Backward runs the gradient through both paths and sums them at the input.
func (b *BasicBlock) Backward(dy *tensor.Tensor) *tensor.Tensor {
	d2, dsum := b.BN2.BackwardAddReLU(dy)
	// BN1 writes over conv2's gradient, so the block holds no map-sized
	// buffer of its own.
	d := b.BN1.BackwardInPlace(b.Conv2.Backward(d2))
	ds := dsum
	if b.Downsample != nil {
		ds = b.Downsample.Backward(dsum)
	}
	if b.addShortcut {
		return b.Conv1.BackwardAdd(d, ds)
	}
	dx := b.Conv1.Backward(d)
	addInto(dx, dx, ds)
	return dx
}

// Bottleneck is ResNet-50's residual block: 1x1 reduce, 3x3 (strided), 1x1
// expand by 4, each with batch norm, plus the shortcut, then ReLU.
type Bottleneck struct {
	Conv1, Conv2, Conv3 *nn.Conv2d
	BN1, BN2, BN3       Norm // BN1 and BN2 with ReLUs fused in
	Downsample          *nn.Sequential
}

func newBottleneck(rng *rand.Rand, in, width, stride int, norm string) *Bottleneck {
	out := width * 4
	b := &Bottleneck{
		Conv1: nn.NewConv2d(rng, nn.ConvConfig{In: in, Out: width, Kernel: 1}),
		BN1:   newNorm(norm, width, true),
		Conv2: nn.NewConv2d(rng, nn.ConvConfig{In: width, Out: width, Kernel: 3, Stride: stride, Padding: 1}),
		BN2:   newNorm(norm, width, true),
		Conv3: nn.NewConv2d(rng, nn.ConvConfig{In: width, Out: out, Kernel: 1}),
		BN3:   newNorm(norm, out, false),
	}
	if stride != 1 || in != out {
		b.Downsample = nn.NewSequential(
			nn.NewConv2d(rng, nn.ConvConfig{In: in, Out: out, Kernel: 1, Stride: stride}),
			newNorm(norm, out, false))
	}
	return b
}

// Children names the parts as torchvision does.
func (b *Bottleneck) Children() []nn.Child {
	cs := []nn.Child{
		{Name: "conv1", Module: b.Conv1}, {Name: "bn1", Module: b.BN1},
		{Name: "conv2", Module: b.Conv2}, {Name: "bn2", Module: b.BN2},
		{Name: "conv3", Module: b.Conv3}, {Name: "bn3", Module: b.BN3},
	}
	if b.Downsample != nil {
		cs = append(cs, nn.Child{Name: "downsample", Module: b.Downsample})
	}
	return cs
}

// Forward computes the block's output.
func (b *Bottleneck) Forward(x *tensor.Tensor) *tensor.Tensor {
	h := b.BN1.Forward(b.Conv1.Forward(x))
	h = b.BN2.Forward(b.Conv2.Forward(h))
	s := x
	if b.Downsample != nil {
		s = b.Downsample.Forward(x)
	}
	return b.BN3.ForwardAddReLU(b.Conv3.Forward(h), s)
}

// Backward runs the gradient through both paths and sums them at the input.
func (b *Bottleneck) Backward(dy *tensor.Tensor) *tensor.Tensor {
	d3, dsum := b.BN3.BackwardAddReLU(dy)
	d := b.Conv3.Backward(d3)
	d = b.Conv2.Backward(b.BN2.BackwardInPlace(d))
	d = b.Conv1.Backward(b.BN1.BackwardInPlace(d))
	ds := dsum
	if b.Downsample != nil {
		ds = b.Downsample.Backward(dsum)
	}
	addInto(d, d, ds) // into conv1's gradient, as BasicBlock does
	return d
}
