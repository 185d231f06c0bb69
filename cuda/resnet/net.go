// Package resnet runs a models.ResNet (the ResNet family and CellNet, with
// batch norm) on a CUDA device: forward and backward passes, the
// cross-entropy loss and the optimizer step all stay on the GPU, and Store
// copies the weights, batch-norm statistics and optimizer state back into
// the CPU model and optimizer, so checkpoints are the CPU's.
//
// The maths are the CPU layers' (package nn and optim): batch norm with
// batch statistics in training and running ones in evaluation, PyTorch's
// momentum, ReLU, residual addition, global average pooling, dropout,
// linear, softmax cross-entropy with label smoothing and class weights,
// and Adam, AdamW or SGD with the same float32 formulas. Convolutions run
// in cuDNN, with TF32 tensor cores when the Device allows them.
package resnet

import (
	"fmt"

	"github.com/deepscope/deepscope/cuda"
	"github.com/deepscope/deepscope/cuda/netstate"
	"github.com/deepscope/deepscope/models"
	"github.com/deepscope/deepscope/nn"
)

// block is a residual block: units in a row, the last adding the shortcut
// (identity or the down unit) before its ReLU.
type block struct {
	units []*netstate.Unit
	down  *netstate.Unit
	x     cuda.Mem
	dres  cuda.Mem   // gradient at the block's output after the ReLU mask
	dmid  []cuda.Mem // gradients at the inner units' outputs
	dx    cuda.Mem   // gradient at the input (downsampling blocks)
}

// Net is a ResNet on a device, planned for batches of Batch images of
// Size×Size×Channels.
type Net struct {
	Batch, Size, Channels, Classes int
	// LabelSmoothing and ClassWeights configure the training loss as
	// nn.CrossEntropy's fields do.
	LabelSmoothing float32
	ClassWeights   []float32
	// ClipNorm, when > 0, scales the gradients to at most this global L2
	// norm before each step, as optim.ClipGradNorm.
	ClipNorm float64

	d  *cuda.Device
	m  *models.ResNet
	st *netstate.State

	stem   *netstate.Unit
	pool   *cuda.MaxPool
	pooled cuda.Mem // after the max-pool
	dstem  cuda.Mem // gradient at the stem's output (the max-pool's input)
	blocks []*block

	featRows, featC     int
	x                   cuda.Mem // input images
	gap, drop, mask     cuda.Mem // [N, C]
	fcW, fcB, fcWG, fcG cuda.Mem
	dropP               float64
	logits, dlogits     cuda.Mem
	dgap, dfeat         cuda.Mem
	targets, cw, loss   cuda.Mem
	cwUp                []float32 // the ClassWeights on the device
	lossHost            []float32
	labels32            []int32
	sumsq               cuda.Mem

	stage *netstate.Staging // the input's upload
}

// alloc returns n zeroed words of device memory that Close frees.
func (n *Net) alloc(words int) (cuda.Mem, error) { return n.st.Alloc(words) }

// Close frees the network's device memory and descriptors; the Net is not
// usable afterwards. The Device stays open.
func (n *Net) Close() {
	if n.pool != nil {
		n.pool.Destroy(n.d)
		n.pool = nil
	}
	n.st.Close()
}

// New plans m on d for batches of batch images of size×size×channels and
// copies its parameters over. m must use batch norm (not group norm).
func New(d *cuda.Device, m nn.Module, batch, size, channels int) (*Net, error) {
	r, ok := m.(*models.ResNet)
	if !ok {
		return nil, fmt.Errorf("cuda: the GPU runs the ResNet family (resnet18, resnet18-medmnist, cellnet, ...), not %T", m)
	}
	if batch < 1 || size < 1 || channels < 1 {
		return nil, fmt.Errorf("cuda: batch %d of %dx%dx%d images", batch, size, size, channels)
	}
	st, err := netstate.New(d, r)
	if err != nil {
		return nil, err
	}
	n := &Net{Batch: batch, Size: size, Channels: channels, Classes: r.FC.Out, d: d, m: r, st: st}
	if err := n.plan(); err != nil {
		st.Close()
		return nil, err
	}
	return n, nil
}

// newUnit plans conv → bn on inputs of h×w×in.
func (n *Net) newUnit(c *nn.Conv2d, norm models.Norm, h, w int) (*netstate.Unit, error) {
	bn, ok := norm.(*nn.BatchNorm2d)
	if !ok {
		return nil, fmt.Errorf("cuda: the GPU runs batch norm, not %T (group-norm models train on the CPU)", norm)
	}
	return n.st.Unit(c, bn, n.Batch, h, w)
}

// plan builds the units and buffers of the whole network.
func (n *Net) plan() error {
	r := n.m
	var err error
	if n.x, err = n.alloc(n.Batch * n.Size * n.Size * n.Channels); err != nil {
		return err
	}
	if n.stem, err = n.newUnit(r.Conv1, r.BN1, n.Size, n.Size); err != nil {
		return err
	}
	h, w := n.stem.Shape.OutSize()
	c := n.stem.Shape.Out
	if r.MaxPool != nil {
		mp := r.MaxPool
		if n.pool, err = n.d.NewMaxPool(n.Batch, h, w, c, mp.Kernel, mp.Stride, mp.Padding); err != nil {
			return err
		}
		// The pool's input gradient has the stem's size, not the pool's.
		if n.dstem, err = n.alloc(n.Batch * h * w * c); err != nil {
			return err
		}
		h, w = n.pool.OH, n.pool.OW
		if n.pooled, err = n.alloc(n.Batch * h * w * c); err != nil {
			return err
		}
	}
	for _, layer := range r.Layers {
		for _, m := range layer.Layers {
			var b *block
			switch blk := m.(type) {
			case *models.BasicBlock:
				b, h, w, err = n.newBlock([]*nn.Conv2d{blk.Conv1, blk.Conv2}, []models.Norm{blk.BN1, blk.BN2}, blk.Downsample, h, w)
			case *models.Bottleneck:
				b, h, w, err = n.newBlock([]*nn.Conv2d{blk.Conv1, blk.Conv2, blk.Conv3}, []models.Norm{blk.BN1, blk.BN2, blk.BN3}, blk.Downsample, h, w)
			default:
				err = fmt.Errorf("cuda: unknown residual block %T", m)
			}
			if err != nil {
				return err
			}
			n.blocks = append(n.blocks, b)
		}
	}
	last := n.blocks[len(n.blocks)-1]
	lu := last.units[len(last.units)-1]
	n.featRows, n.featC = h*w, lu.Shape.Out
	if r.Drop != nil {
		n.dropP = r.Drop.P
	}
	if r.FC.Bias == nil {
		return fmt.Errorf("cuda: a classifier without bias is not supported on the GPU")
	}
	n.fcW, n.fcWG, _ = n.st.View(r.FC.Weight)
	n.fcB, n.fcG, _ = n.st.View(r.FC.Bias)
	nc := n.Batch * n.featC
	k := n.Batch * n.Classes
	for _, a := range []struct {
		m     *cuda.Mem
		words int
	}{{&n.gap, nc}, {&n.drop, nc}, {&n.mask, nc}, {&n.dgap, nc}, {&n.logits, k}, {&n.dlogits, k},
		{&n.dfeat, n.Batch * n.featRows * n.featC}, {&n.targets, n.Batch}, {&n.loss, 1}, {&n.sumsq, 2}} {
		if *a.m, err = n.alloc(a.words); err != nil {
			return err
		}
	}
	// Staging the input in page-locked memory lets its copy to the card be
	// queued while the step's kernels are launched; without it the driver
	// stages pageable memory itself, synchronously.
	n.stage = n.st.Staging(n.x.N)
	n.lossHost = make([]float32, 1)
	n.labels32 = make([]int32, n.Batch)
	return n.d.Err()
}

// newBlock plans a residual block on inputs of h×w and returns its output size.
func (n *Net) newBlock(convs []*nn.Conv2d, norms []models.Norm, down *nn.Sequential, h, w int) (*block, int, int, error) {
	b := &block{}
	ih, iw := h, w
	for i, c := range convs {
		u, err := n.newUnit(c, norms[i], h, w)
		if err != nil {
			return nil, 0, 0, err
		}
		h, w = u.Shape.OutSize()
		b.units = append(b.units, u)
		if i < len(convs)-1 {
			dm, err := n.alloc(u.Rows * u.Shape.Out)
			if err != nil {
				return nil, 0, 0, err
			}
			b.dmid = append(b.dmid, dm)
		}
	}
	last := b.units[len(b.units)-1]
	var err error
	if b.dres, err = n.alloc(last.Rows * last.Shape.Out); err != nil {
		return nil, 0, 0, err
	}
	if down != nil {
		dc, ok1 := down.Layers[0].(*nn.Conv2d)
		dn, ok2 := down.Layers[1].(models.Norm)
		if !ok1 || !ok2 {
			return nil, 0, 0, fmt.Errorf("cuda: unexpected downsample layers")
		}
		if b.down, err = n.newUnit(dc, dn, ih, iw); err != nil {
			return nil, 0, 0, err
		}
		first := b.units[0]
		if b.dx, err = n.alloc(n.Batch * ih * iw * first.Shape.In); err != nil {
			return nil, 0, 0, err
		}
	}
	return b, h, w, nil
}
