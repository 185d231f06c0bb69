// Package unet trains a models.UNet (the segmentation network of package
// segment) on a CUDA device: forward and backward passes, the per-pixel
// cross-entropy and the optimizer step stay on the GPU, and Store copies
// the weights, batch-norm statistics and optimizer state back into the CPU
// model and optimizer, so that checkpoints, validation and inference are
// the CPU's.
//
// The maths are the CPU layers' (packages nn and models): 3x3 convolutions
// with batch norm and ReLU, 2x2 max-pooling, 2x2 transposed convolutions
// with bias, channel concatenation of the skip maps, a 1x1 output
// convolution with bias, softmax cross-entropy with class weights, and
// Adam, AdamW or SGD. Convolutions run in cuDNN (TF32 when the Device
// allows it); a transposed convolution is run as the backward pass of the
// convolution it transposes.
package unet

import (
	"fmt"
	"slices"

	"github.com/deepscope/deepscope/cuda"
	"github.com/deepscope/deepscope/cuda/netstate"
	"github.com/deepscope/deepscope/models"
	"github.com/deepscope/deepscope/nn"
	"github.com/deepscope/deepscope/optim"
	"github.com/deepscope/deepscope/tensor"
)

// double is models' double convolution: two units in a row.
type double struct {
	a, b *netstate.Unit
	dmid cuda.Mem // gradient between them
}

func (l *double) forward(d *cuda.Device, x cuda.Mem, training bool) cuda.Mem {
	l.a.Forward(d, x, cuda.Mem{}, training)
	l.b.Forward(d, l.a.Z, cuda.Mem{}, training)
	return l.b.Z
}

func (l *double) backward(d *cuda.Device, dout, dx cuda.Mem) {
	l.b.Backward(d, dout, cuda.Mem{}, l.dmid, 0, false)
	l.a.Backward(d, l.dmid, cuda.Mem{}, dx, 0, false)
}

// up is one decoder level: the transposed convolution (as the backward
// pass of conv, the 2x2 stride-2 convolution from the fine map to the
// coarse one), its bias, the concatenation [skip, up] and a double
// convolution.
type up struct {
	conv         *cuda.Conv
	w, dw, b, db cuda.Mem
	rows         int // rows of the fine map, N*H*W
	c            int // channels of the fine map (the coarse one has 2c)
	x            cuda.Mem
	t, dt, dskip cuda.Mem // rows × c
	cat, dcat    cuda.Mem // rows × 2c
	dx           cuda.Mem // gradient at the coarse input
	double       *double
}

func (p *up) forward(d *cuda.Device, x, skip cuda.Mem, training bool) cuda.Mem {
	p.x = x
	p.conv.BackwardData(d, p.w, x, p.t, 0)
	d.AddBias(p.t, p.b, p.rows, p.c)
	d.ConcatChannels(p.cat, skip, p.t, p.rows, p.c, p.c)
	return p.double.forward(d, p.cat, training)
}

// backward leaves the gradients at the skip map in p.dskip and at the
// coarse input in p.dx.
func (p *up) backward(d *cuda.Device, dout cuda.Mem) {
	p.double.backward(d, dout, p.dcat)
	d.SplitChannels(p.dskip, p.dt, p.dcat, p.rows, p.c, p.c)
	d.ColSum(p.dt, p.db, p.rows, p.c)
	p.conv.BackwardFilter(d, p.dt, p.x, p.dw, 1)
	p.conv.Forward(d, p.dt, p.w, p.dx, 0)
}

// Net is a U-Net on a device, planned for batches of Batch crops of
// Size×Size×Channels.
type Net struct {
	Batch, Size, Channels, Classes int
	// ClassWeights weighs each pixel's loss by its target's class, as
	// nn.CrossEntropy's Weight; nil weighs every pixel 1.
	ClassWeights []float32

	d  *cuda.Device
	m  *models.UNet
	st *netstate.State

	x      cuda.Mem
	inc    *double
	pools  []*cuda.MaxPool
	pooled []cuda.Mem // pools' outputs
	dpool  []cuda.Mem // gradients at the pools' outputs
	downs  []*double
	enc    []cuda.Mem // gradients at the encoder levels' outputs, except the deepest
	ups    []*up
	skips  []cuda.Mem // the encoder levels' outputs of the last forward

	out                      *cuda.Conv
	outW, outDW, outB, outDB cuda.Mem
	logits, dlogits, dh      cuda.Mem
	rows                     int // output rows, Batch*Size*Size

	targets, cw, loss cuda.Mem
	lossHost          []float32
	outHost           *tensor.Tensor // TrainStepLoss's outputs
	cwUp              []float32      // the ClassWeights on the device
	labels32          []int32
	stage             *netstate.Staging // the input's upload
}

// New plans m on d for batches of batch crops of size×size×channels and
// copies its parameters over. size must be a multiple of 2^depth.
func New(d *cuda.Device, m *models.UNet, batch, size, channels int) (*Net, error) {
	depth := len(m.Downs)
	if batch < 1 || size < 1 || channels < 1 || size%(1<<depth) != 0 {
		return nil, fmt.Errorf("cuda: batch %d of %dx%dx%d crops for a U-Net of depth %d", batch, size, size, channels, depth)
	}
	st, err := netstate.New(d, m)
	if err != nil {
		return nil, err
	}
	n := &Net{Batch: batch, Size: size, Channels: channels, Classes: m.Out.Config().Out, d: d, m: m, st: st}
	if err := n.plan(); err != nil {
		st.Close()
		return nil, err
	}
	return n, nil
}

// Close frees the network's device memory and descriptors; the Device
// stays open.
func (n *Net) Close() {
	for _, p := range n.pools {
		p.Destroy(n.d)
	}
	n.pools = nil
	n.st.Close()
}

// newUnit plans conv → bn → ReLU on batches of h×w maps.
func (n *Net) newUnit(c *nn.Conv2d, norm nn.Module, h, w int) (*netstate.Unit, error) {
	bn, ok := norm.(*nn.BatchNorm2d)
	if !ok || !bn.ReLU {
		return nil, fmt.Errorf("cuda: the GPU runs a U-Net of batch norm with ReLU, not %T", norm)
	}
	cfg := c.Config()
	if cfg.Stride != 1 || 2*cfg.Padding != cfg.Kernel-1 {
		return nil, fmt.Errorf("cuda: a U-Net convolution changes the map's size")
	}
	return n.st.Unit(c, bn, n.Batch, h, w)
}

// newDouble plans a double convolution on h×w maps.
func (n *Net) newDouble(s *nn.Sequential, h, w int) (*double, error) {
	if len(s.Layers) != 4 {
		return nil, fmt.Errorf("cuda: a U-Net level of %d layers, want conv, bn, conv, bn", len(s.Layers))
	}
	var us [2]*netstate.Unit
	for i := range us {
		c, ok := s.Layers[2*i].(*nn.Conv2d)
		if !ok {
			return nil, fmt.Errorf("cuda: a U-Net level starting with %T, want a convolution", s.Layers[2*i])
		}
		var err error
		if us[i], err = n.newUnit(c, s.Layers[2*i+1], h, w); err != nil {
			return nil, err
		}
	}
	dmid, err := n.st.Alloc(us[0].Rows * us[0].BN.C)
	if err != nil {
		return nil, err
	}
	return &double{a: us[0], b: us[1], dmid: dmid}, nil
}

// plan builds the levels and buffers of the whole network.
func (n *Net) plan() error {
	m, st := n.m, n.st
	var err error
	alloc := func(dst *cuda.Mem, words int) {
		if err == nil {
			*dst, err = st.Alloc(words)
		}
	}
	alloc(&n.x, n.Batch*n.Size*n.Size*n.Channels)
	if err != nil {
		return err
	}
	h := n.Size
	if n.inc, err = n.newDouble(m.Inc, h, h); err != nil {
		return err
	}
	c := n.inc.b.BN.C
	n.skips = make([]cuda.Mem, len(m.Downs))
	for _, dl := range m.Downs {
		p := dl.Pool
		if p.Kernel != 2 || p.Stride != 2 || p.Padding != 0 {
			return fmt.Errorf("cuda: a U-Net pooling other than 2x2 stride 2")
		}
		var mp *cuda.MaxPool
		if mp, err = n.d.NewMaxPool(n.Batch, h, h, c, 2, 2, 0); err != nil {
			return err
		}
		n.pools = append(n.pools, mp)
		var enc cuda.Mem
		alloc(&enc, n.Batch*h*h*c) // the gradient at this level's output
		n.enc = append(n.enc, enc)
		h /= 2
		var pooled, dpool cuda.Mem
		alloc(&pooled, n.Batch*h*h*c)
		alloc(&dpool, n.Batch*h*h*c)
		if err != nil {
			return err
		}
		n.pooled, n.dpool = append(n.pooled, pooled), append(n.dpool, dpool)
		var dbl *double
		if dbl, err = n.newDouble(dl.Conv, h, h); err != nil {
			return err
		}
		n.downs = append(n.downs, dbl)
		c = dbl.b.BN.C
	}
	for _, ul := range m.Ups {
		t := ul.Up
		cfg := t.Config()
		if cfg.Kernel != 2 || cfg.Stride != 2 || cfg.Padding != 0 || cfg.Groups != 1 || t.Bias == nil || cfg.In != c || cfg.Out != c/2 {
			return fmt.Errorf("cuda: a U-Net up-sampling other than a biased 2x2 stride-2 transposed convolution from %d to %d channels", c, c/2)
		}
		p := &up{rows: n.Batch * 4 * h * h, c: c / 2}
		s := cuda.ConvShape{N: n.Batch, H: 2 * h, W: 2 * h, In: c / 2, Out: c, Kernel: 2, Stride: 2}
		if p.conv, err = st.Conv(s); err != nil {
			return err
		}
		p.w, p.dw, _ = st.View(t.Weight)
		p.b, p.db, _ = st.View(t.Bias)
		alloc(&p.t, p.rows*p.c)
		alloc(&p.dt, p.rows*p.c)
		alloc(&p.dskip, p.rows*p.c)
		alloc(&p.cat, p.rows*2*p.c)
		alloc(&p.dcat, p.rows*2*p.c)
		alloc(&p.dx, n.Batch*h*h*c)
		if err != nil {
			return err
		}
		h *= 2
		if p.double, err = n.newDouble(ul.Conv, h, h); err != nil {
			return err
		}
		c /= 2
		n.ups = append(n.ups, p)
	}
	oc := m.Out.Config()
	if oc.Kernel != 1 || oc.Groups != 1 || m.Out.Bias == nil || oc.In != c {
		return fmt.Errorf("cuda: a U-Net output other than a biased 1x1 convolution")
	}
	n.rows = n.Batch * n.Size * n.Size
	if n.out, err = st.Conv(cuda.ConvShape{N: n.Batch, H: n.Size, W: n.Size, In: c, Out: n.Classes, Kernel: 1, Stride: 1}); err != nil {
		return err
	}
	n.outW, n.outDW, _ = st.View(m.Out.Weight)
	n.outB, n.outDB, _ = st.View(m.Out.Bias)
	alloc(&n.logits, n.rows*n.Classes)
	alloc(&n.dlogits, n.rows*n.Classes)
	alloc(&n.dh, n.rows*c)
	alloc(&n.targets, n.rows)
	alloc(&n.loss, 1)
	alloc(&n.cw, n.Classes)
	if err != nil {
		return err
	}
	n.stage = st.Staging(n.x.N)
	n.lossHost = make([]float32, 1)
	n.labels32 = make([]int32, n.rows)
	return n.d.Err()
}

// forward runs the network on the uploaded input and leaves the logits in
// n.logits (queued).
func (n *Net) forward(training bool) {
	d := n.d
	h := n.inc.forward(d, n.x, training)
	for i, dl := range n.downs {
		n.skips[i] = h
		n.pools[i].Forward(d, h, n.pooled[i])
		h = dl.forward(d, n.pooled[i], training)
	}
	for j, p := range n.ups {
		h = p.forward(d, h, n.skips[len(n.skips)-1-j], training)
	}
	n.out.Forward(d, h, n.outW, n.logits, 0)
	d.AddBias(n.logits, n.outB, n.rows, n.Classes)
}

// backward runs the gradient in n.dlogits through the network, adding
// every parameter's gradient (queued).
func (n *Net) backward() {
	d := n.d
	last := n.ups[len(n.ups)-1].double.b.Z
	d.ColSum(n.dlogits, n.outDB, n.rows, n.Classes)
	n.out.BackwardFilter(d, last, n.dlogits, n.outDW, 1)
	n.out.BackwardData(d, n.outW, n.dlogits, n.dh, 0)
	g := n.dh
	for j := len(n.ups) - 1; j >= 0; j-- {
		n.ups[j].backward(d, g)
		g = n.ups[j].dx
	}
	depth := len(n.downs)
	for i := depth - 1; i >= 0; i-- {
		// g is the gradient at level i+1's output; the pool takes it
		// back to level i's, where the skip's gradient joins it.
		n.downs[i].backward(d, g, n.dpool[i])
		n.pools[i].Backward(d, n.skips[i], n.pooled[i], n.dpool[i], n.enc[i])
		d.AddInto(n.enc[i], n.ups[depth-1-i].dskip, n.enc[i].N)
		g = n.enc[i]
	}
	n.inc.backward(d, g, cuda.Mem{})
}

// Upload copies a batch [Batch, Size, Size, Channels] and its per-pixel
// targets (nil for none) to the device.
func (n *Net) Upload(x *tensor.Tensor, targets []int) error {
	if x.Dims() != 4 || x.Dim(0) != n.Batch || x.Dim(1) != n.Size || x.Dim(2) != n.Size || x.Dim(3) != n.Channels {
		return fmt.Errorf("cuda: batch of shape %v for a U-Net planned for [%d, %d, %d, %d]", x.Shape, n.Batch, n.Size, n.Size, n.Channels)
	}
	if err := n.stage.Upload(n.x, x.Contiguous().Values()); err != nil {
		return err
	}
	if targets != nil {
		if len(targets) != n.rows {
			return fmt.Errorf("cuda: %d targets for %d pixels", len(targets), n.rows)
		}
		for i, y := range targets {
			if y < 0 || y >= n.Classes {
				return fmt.Errorf("cuda: target %d of pixel %d outside [0, %d)", y, i, n.Classes)
			}
			n.labels32[i] = int32(y)
		}
		n.d.UploadInt32(n.targets, n.labels32)
	}
	return n.d.Err()
}

// TrainStep uploads a full batch and its per-pixel targets and runs one
// training step with learning rate lr: gradients zeroed, forward in
// training mode, cross-entropy, backward and the optimizer's update. It
// returns the mean loss.
func (n *Net) TrainStep(x *tensor.Tensor, targets []int, lr float64) (float32, error) {
	if !n.st.HasOptimizer() {
		return 0, fmt.Errorf("cuda: TrainStep before SetOptimizer")
	}
	if targets == nil {
		return 0, fmt.Errorf("cuda: TrainStep without targets")
	}
	if err := n.Upload(x, targets); err != nil {
		return 0, err
	}
	var cw cuda.Mem
	if n.ClassWeights != nil {
		if len(n.ClassWeights) != n.Classes {
			return 0, fmt.Errorf("cuda: %d class weights for %d classes", len(n.ClassWeights), n.Classes)
		}
		if !slices.Equal(n.cwUp, n.ClassWeights) { // uploaded once, again only when changed
			n.d.Upload(n.cw, n.ClassWeights)
			n.cwUp = slices.Clone(n.ClassWeights)
		}
		cw = n.cw
	}
	n.st.ZeroGrad()
	n.forward(true)
	n.st.Tracked()
	n.d.CrossEntropy(n.logits, n.targets, cw, n.rows, n.Classes, 0, n.dlogits, n.loss)
	n.backward()
	n.st.Step(lr)
	if err := n.d.Download(n.lossHost, n.loss); err != nil {
		return 0, err
	}
	return n.lossHost[0], nil
}

// TrainStepLoss runs one training step with a loss computed on the host,
// for heads whose loss the device has no kernel for: the batch x is
// uploaded, the gradients zeroed and the network run in training mode;
// loss receives its outputs [Batch, Size, Size, Classes] and returns the
// mean loss and its gradient with respect to them (same shape), which is
// uploaded and run back through the network before the optimizer's update
// with learning rate lr. It returns what loss returned.
func (n *Net) TrainStepLoss(x *tensor.Tensor, lr float64, loss func(out *tensor.Tensor) (float32, *tensor.Tensor)) (float32, error) {
	if !n.st.HasOptimizer() {
		return 0, fmt.Errorf("cuda: TrainStepLoss before SetOptimizer")
	}
	if err := n.Upload(x, nil); err != nil {
		return 0, err
	}
	n.st.ZeroGrad()
	n.forward(true)
	n.st.Tracked()
	out := tensor.Ensure(&n.outHost, n.Batch, n.Size, n.Size, n.Classes)
	if err := n.d.Download(out.Values(), n.logits); err != nil {
		return 0, err
	}
	l, grad := loss(out)
	if grad == nil || grad.Len() != out.Len() {
		return 0, fmt.Errorf("cuda: the loss's gradient is not of the outputs' shape %v", out.Shape)
	}
	n.d.Upload(n.dlogits, grad.Contiguous().Values())
	n.backward()
	n.st.Step(lr)
	return l, n.d.Err()
}

// Logits returns the evaluation-mode logits [Batch, Size, Size, Classes]
// of a full batch x.
func (n *Net) Logits(x *tensor.Tensor) (*tensor.Tensor, error) {
	if err := n.Upload(x, nil); err != nil {
		return nil, err
	}
	n.forward(false)
	out := tensor.New(n.Batch, n.Size, n.Size, n.Classes)
	if err := n.d.Download(out.Values(), n.logits); err != nil {
		return nil, err
	}
	return out, nil
}

// SetOptimizer sets the update TrainStep applies and loads cpu's state.
// cpu must be the optimizer of the CPU model the Net was made from, built
// with the same settings as o: Store writes the device's state back into
// it.
func (n *Net) SetOptimizer(o netstate.Optimizer, cpu optim.Optimizer) error {
	return n.st.SetOptimizer(o, cpu)
}

// Load copies the CPU model's parameters and running statistics (and the
// CPU optimizer's state, once set) to the device.
func (n *Net) Load() error { return n.st.Load() }

// Store copies the device's parameters, running statistics and optimizer
// state back into the CPU model and optimizer.
func (n *Net) Store() error { return n.st.Store() }

// Device returns the device the network runs on.
func (n *Net) Device() *cuda.Device { return n.d }
