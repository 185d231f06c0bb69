package resnet

import (
	"fmt"
	"math"
	"slices"

	"github.com/deepscope/deepscope/cuda"
	"github.com/deepscope/deepscope/tensor"
)

// forward runs the block on x and returns its output.
func (b *block) forward(d *cuda.Device, x cuda.Mem, training bool) cuda.Mem {
	b.x = x
	h := x
	last := len(b.units) - 1
	for _, u := range b.units[:last] {
		u.Forward(d, h, cuda.Mem{}, training)
		h = u.Z
	}
	s := x
	if b.down != nil {
		b.down.Forward(d, x, cuda.Mem{}, training)
		s = b.down.Z
	}
	b.units[last].Forward(d, h, s, training)
	return b.units[last].Z
}

// backward takes the gradient at the block's output and returns the one at
// its input.
func (b *block) backward(d *cuda.Device, dout cuda.Mem) cuda.Mem {
	last := len(b.units) - 1
	dx := b.dres // identity shortcut: the input gradient is dres plus the main path's
	var target cuda.Mem
	if last > 0 {
		target = b.dmid[last-1]
	} else {
		target = dx
	}
	b.units[last].Backward(d, dout, b.dres, target, 0, true)
	if b.down != nil {
		dx = b.dx
		b.down.Backward(d, b.dres, cuda.Mem{}, dx, 0, false)
		if last == 0 {
			panic("cuda: a downsampling block of one unit")
		}
	}
	for i := last - 1; i >= 0; i-- {
		if i > 0 {
			b.units[i].Backward(d, b.dmid[i], cuda.Mem{}, b.dmid[i-1], 0, false)
		} else {
			b.units[0].Backward(d, b.dmid[0], cuda.Mem{}, dx, 1, false)
		}
	}
	return dx
}

// forward runs the network on the uploaded input and leaves the logits in
// n.logits (queued).
func (n *Net) forward(training bool, seed uint64) {
	d := n.d
	n.stem.Forward(d, n.x, cuda.Mem{}, training)
	h := n.stem.Z
	if n.pool != nil {
		n.pool.Forward(d, h, n.pooled)
		h = n.pooled
	}
	for _, b := range n.blocks {
		h = b.forward(d, h, training)
	}
	d.GlobalAvgPool(h, n.gap, n.Batch, n.featRows, n.featC)
	z := n.gap
	if training && n.dropP > 0 {
		d.Dropout(n.gap, n.drop, n.mask, n.Batch*n.featC, n.dropP, seed)
		z = n.drop
	}
	d.Gemm(false, true, n.Batch, n.Classes, n.featC, 1, z, n.featC, n.fcW, n.featC, 0, n.logits, n.Classes)
	d.AddBias(n.logits, n.fcB, n.Batch, n.Classes)
}

// backward runs the gradient of n.dlogits through the network, adding every
// parameter's gradient (queued).
func (n *Net) backward(dropped bool) {
	d := n.d
	z := n.gap
	if dropped {
		z = n.drop
	}
	d.Gemm(true, false, n.Classes, n.featC, n.Batch, 1, n.dlogits, n.Classes, z, n.featC, 1, n.fcWG, n.featC)
	d.ColSum(n.dlogits, n.fcG, n.Batch, n.Classes)
	d.Gemm(false, false, n.Batch, n.featC, n.Classes, 1, n.dlogits, n.Classes, n.fcW, n.featC, 0, n.dgap, n.featC)
	if dropped {
		d.Mul(n.dgap, n.mask, n.dgap, n.Batch*n.featC)
	}
	d.GlobalAvgPoolBackward(n.dgap, n.dfeat, n.Batch, n.featRows, n.featC)
	g := n.dfeat
	for i := len(n.blocks) - 1; i >= 0; i-- {
		g = n.blocks[i].backward(d, g)
	}
	if n.pool != nil {
		n.pool.Backward(d, n.stem.Z, n.pooled, g, n.dstem)
		g = n.dstem
	}
	n.stem.Backward(d, g, cuda.Mem{}, cuda.Mem{}, 0, false)
}

// Upload copies a batch [n, Size, Size, Channels] (n <= Batch) and its
// labels (nil for none) to the device.
func (n *Net) Upload(x *tensor.Tensor, labels []int) error {
	if x.Dims() != 4 || x.Dim(1) != n.Size || x.Dim(2) != n.Size || x.Dim(3) != n.Channels || x.Dim(0) > n.Batch {
		return fmt.Errorf("cuda: batch of shape %v for a network planned for [%d, %d, %d, %d]", x.Shape, n.Batch, n.Size, n.Size, n.Channels)
	}
	if err := n.stage.Upload(n.x, x.Contiguous().Values()); err != nil {
		return err
	}
	if labels != nil {
		for i, y := range labels {
			if y < 0 || y >= n.Classes {
				return fmt.Errorf("cuda: label %d of image %d outside [0, %d)", y, i, n.Classes)
			}
			n.labels32[i] = int32(y)
		}
		n.d.UploadInt32(n.targets, n.labels32[:len(labels)])
	}
	return n.d.Err()
}

// Step runs one training step on the uploaded batch, which must be full:
// gradients zeroed, forward in training mode, cross-entropy, backward,
// clipping if asked and the optimizer update with learning rate lr. seed
// draws the dropout masks. Nothing waits for the GPU; Loss reads the loss.
func (n *Net) Step(lr float64, seed uint64) error {
	if !n.st.HasOptimizer() {
		return fmt.Errorf("cuda: Step before SetOptimizer")
	}
	d := n.d
	n.st.ZeroGrad()
	n.forward(true, seed)
	n.st.Tracked()
	var cw cuda.Mem
	if n.ClassWeights != nil {
		if len(n.ClassWeights) != n.Classes {
			return fmt.Errorf("cuda: %d class weights for %d classes", len(n.ClassWeights), n.Classes)
		}
		if n.cw.Ptr == 0 {
			var err error
			if n.cw, err = d.Alloc(n.Classes); err != nil {
				return err
			}
		}
		if !slices.Equal(n.cwUp, n.ClassWeights) { // uploaded once, again only when changed
			d.Upload(n.cw, n.ClassWeights)
			n.cwUp = slices.Clone(n.ClassWeights)
		}
		cw = n.cw
	}
	d.CrossEntropy(n.logits, n.targets, cw, n.Batch, n.Classes, n.LabelSmoothing, n.dlogits, n.loss)
	n.backward(n.dropP > 0)
	if n.ClipNorm > 0 {
		if err := n.clip(); err != nil {
			return err
		}
	}
	n.st.Step(lr)
	return d.Err()
}

// clip scales the gradients to a global norm of at most ClipNorm, as
// optim.ClipGradNorm (a NaN or infinite norm leaves them unchanged).
func (n *Net) clip() error {
	d := n.d
	d.Zero(n.sumsq)
	d.SumSquares(n.st.Grads, n.sumsq)
	s, err := d.DownloadFloat64(n.sumsq)
	if err != nil {
		return err
	}
	total := math.Sqrt(s)
	if math.IsNaN(total) || math.IsInf(total, 0) {
		return nil
	}
	if coef := n.ClipNorm / (total + 1e-6); coef < 1 {
		d.Scale(n.st.Grads, float32(coef))
	}
	return nil
}

// Loss waits for the last Step and returns its mean loss.
func (n *Net) Loss() (float32, error) {
	if err := n.d.Download(n.lossHost, n.loss); err != nil {
		return 0, err
	}
	return n.lossHost[0], nil
}

// TrainStep uploads a full batch and its labels, runs Step and returns the
// loss.
func (n *Net) TrainStep(x *tensor.Tensor, labels []int, lr float64, seed uint64) (float32, error) {
	if x.Dim(0) != n.Batch || len(labels) != n.Batch {
		return 0, fmt.Errorf("cuda: a training step needs a full batch of %d images and labels, got %d and %d", n.Batch, x.Dim(0), len(labels))
	}
	if err := n.Upload(x, labels); err != nil {
		return 0, err
	}
	if err := n.Step(lr, seed); err != nil {
		return 0, err
	}
	return n.Loss()
}

// Infer runs the uploaded batch through the network in evaluation mode
// (running statistics, no dropout) without waiting for it.
func (n *Net) Infer() error {
	n.forward(false, 0)
	return n.d.Err()
}

// Logits returns the evaluation-mode logits [N, Classes] of images x
// [N, Size, Size, Channels], in batches of at most Batch.
func (n *Net) Logits(x *tensor.Tensor) (*tensor.Tensor, error) {
	if x.Dims() != 4 {
		return nil, fmt.Errorf("cuda: images of shape %v, want [N, H, W, C]", x.Shape)
	}
	x = x.Contiguous()
	total := x.Dim(0)
	out := tensor.New(total, n.Classes)
	per := n.Size * n.Size * n.Channels
	for lo := 0; lo < total; lo += n.Batch {
		hi := min(lo+n.Batch, total)
		part := tensor.FromSlice(x.Values()[lo*per:hi*per], hi-lo, n.Size, n.Size, n.Channels)
		if err := n.Upload(part, nil); err != nil {
			return nil, err
		}
		n.forward(false, 0)
		if err := n.d.Download(out.Values()[lo*n.Classes:hi*n.Classes], n.logits); err != nil {
			return nil, err
		}
	}
	return out, nil
}
