package nn

import (
	"fmt"
	"math/rand/v2"

	"github.com/deepscope/deepscope/tensor"
)

// Dropout zeroes each element with probability P in training and scales
// the survivors by 1/(1−P) (inverted dropout), like torch.nn.Dropout; in
// evaluation it is the identity. A new Dropout is in training mode.
//
// Masks come from a PCG generator (math/rand/v2) that Seed resets, so two
// runs seeded alike draw the same masks; an unseeded Dropout starts from
// seed 0.
type Dropout struct {
	P float64

	eval      bool
	pcg       *rand.PCG
	rng       *rand.Rand
	mask      []float32 // 0 or 1/(1−P) per element of the last training Forward
	y, dx     *tensor.Tensor
	lastTrain bool // whether the last Forward applied a mask
}

// NewDropout returns a Dropout layer that drops with probability p, which
// must lie in [0, 1].
func NewDropout(p float64) *Dropout {
	if !(p >= 0 && p <= 1) {
		panic(fmt.Sprintf("nn: NewDropout(%g): p must be in [0, 1]", p))
	}
	pcg := rand.NewPCG(0, dropoutStream)
	return &Dropout{P: p, pcg: pcg, rng: rand.New(pcg)}
}

// dropoutStream is the PCG stream constant; Seed picks the state.
const dropoutStream = 0x6a09e667f3bcc908

// SetTraining switches between dropping (true) and the identity (false).
func (d *Dropout) SetTraining(training bool) { d.eval = !training }

// Seed restarts the mask generator from seed.
func (d *Dropout) Seed(seed uint64) { d.pcg.Seed(seed, dropoutStream) }

// Forward drops and rescales in training and returns x itself in evaluation
// or when P is 0.
func (d *Dropout) Forward(x *tensor.Tensor) *tensor.Tensor {
	d.lastTrain = !d.eval && d.P > 0
	if !d.lastTrain {
		return x
	}
	y := tensor.Ensure(&d.y, x.Shape...)
	xv, yv := x.Contiguous().Values(), y.Values()
	if cap(d.mask) < len(xv) {
		d.mask = make([]float32, len(xv))
	}
	d.mask = d.mask[:len(xv)]
	scale := float32(0)
	if d.P < 1 {
		scale = float32(1 / (1 - d.P))
	}
	// Drawing is sequential so the mask depends only on the seed, not on
	// how the work is split over threads.
	for i := range d.mask {
		if d.rng.Float64() < d.P {
			d.mask[i] = 0
		} else {
			d.mask[i] = scale
		}
	}
	for i, v := range xv {
		yv[i] = v * d.mask[i]
	}
	return y
}

// Backward applies the mask of the last Forward to dy, or returns dy itself
// if that Forward did not drop.
func (d *Dropout) Backward(dy *tensor.Tensor) *tensor.Tensor {
	if !d.lastTrain {
		return dy
	}
	if dy.Len() != len(d.mask) {
		panic(fmt.Sprintf("nn: Dropout: gradient %v does not match the last Forward", dy.Shape))
	}
	dx := tensor.Ensure(&d.dx, dy.Shape...)
	for i, v := range dy.Contiguous().Values() {
		dx.Data[i] = v * d.mask[i]
	}
	return dx
}
