package explain

import (
	"errors"
	"fmt"
	"math"

	"github.com/deepscope/deepscope/nn"
	"github.com/deepscope/deepscope/tensor"
)

// Output says which number of a classifier's output a perturbation method
// or a faithfulness curve follows.
type Output int

const (
	// Probability is the softmax probability of the class (the default).
	Probability Output = iota
	// Logit is the class's raw output.
	Logit
	// Sigmoid is the class's own sigmoid, the probability of one label of
	// a multi-label model.
	Sigmoid
)

// String names the output as the command line does.
func (o Output) String() string {
	switch o {
	case Logit:
		return "logit"
	case Sigmoid:
		return "sigmoid"
	}
	return "probability"
}

// DefaultBatch is how many altered copies of an image go through the model
// at once when a method's Batch is 0.
const DefaultBatch = 32

// ErrInput is wrapped by the errors for an input of the wrong shape.
var ErrInput = errors.New("explain: input must be one image [1, H, W, C]")

// checkInput reports an x that is not one contiguous image [1, H, W, C].
func checkInput(x *tensor.Tensor) error {
	if x == nil {
		return fmt.Errorf("%w, got none", ErrInput)
	}
	if x.Dims() != 4 || x.Dim(0) != 1 || x.Dim(1) < 1 || x.Dim(2) < 1 || x.Dim(3) < 1 {
		return fmt.Errorf("%w, got %v", ErrInput, x.Shape)
	}
	for _, v := range x.Contiguous().Values() {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return fmt.Errorf("explain: input %v holds NaN or infinite values", x.Shape)
		}
	}
	return nil
}

// guard turns a panic raised while the model runs (a layer rejecting the
// input's shape, say) into an error, so a bad image never takes a server
// down. It must be deferred.
func guard(err *error, x *tensor.Tensor) {
	if r := recover(); r != nil {
		shape := []int(nil)
		if x != nil {
			shape = x.Shape
		}
		*err = fmt.Errorf("explain: the model cannot take input %v: %v", shape, r)
	}
}

// runner feeds one image, and batches of altered copies of it, through a
// model, keeping its batch buffers between calls.
type runner struct {
	m       nn.Module
	class   int
	batch   int
	h, w, c int
	x       []float32 // the image being explained, [H*W*C]
	logits  []float32 // its logits
	buf, dy *tensor.Tensor
}

// newRunner checks x and class, puts m in evaluation mode and runs x once.
func newRunner(m nn.Module, x *tensor.Tensor, class, batch int) (*runner, error) {
	if m == nil {
		return nil, errors.New("explain: no model")
	}
	if err := checkInput(x); err != nil {
		return nil, err
	}
	if batch <= 0 {
		batch = DefaultBatch
	}
	x = x.Contiguous()
	r := &runner{m: m, class: class, batch: batch, h: x.Dim(1), w: x.Dim(2), c: x.Dim(3), x: x.Values()}
	nn.SetTraining(m, false)
	y := m.Forward(x)
	if y.Dims() != 2 || y.Dim(0) != 1 {
		return nil, fmt.Errorf("explain: the model gives output %v for one image, want [1, classes]", y.Shape)
	}
	if class < 0 || class >= y.Dim(1) {
		return nil, fmt.Errorf("explain: class %d out of range: the model has %d classes", class, y.Dim(1))
	}
	r.logits = append([]float32(nil), y.Contiguous().Values()...)
	return r, nil
}

// size is the number of values of one image.
func (r *runner) size() int { return r.h * r.w * r.c }

// score returns the output o of the class from one row of logits.
func score(logits []float32, class int, o Output) float64 {
	z := float64(logits[class])
	switch o {
	case Logit:
		return z
	case Sigmoid:
		return 1 / (1 + math.Exp(-z))
	}
	mx := math.Inf(-1)
	for _, v := range logits {
		mx = math.Max(mx, float64(v))
	}
	var s float64
	for _, v := range logits {
		s += math.Exp(float64(v) - mx)
	}
	return math.Exp(z-mx) / s
}

// scores runs n images through the model, at most r.batch at a time, and
// returns output o of the class for each. fill writes image i into img.
func (r *runner) scores(n int, o Output, fill func(i int, img []float32)) []float64 {
	out := make([]float64, n)
	sz := r.size()
	for lo := 0; lo < n; lo += r.batch {
		b := min(r.batch, n-lo)
		x := tensor.Ensure(&r.buf, b, r.h, r.w, r.c)
		for i := 0; i < b; i++ {
			fill(lo+i, x.Data[i*sz:(i+1)*sz])
		}
		y := r.m.Forward(x).Contiguous().Values()
		k := len(y) / b
		for i := 0; i < b; i++ {
			out[lo+i] = score(y[i*k:(i+1)*k], r.class, o)
		}
	}
	return out
}

// grads runs n images through the model, at most r.batch at a time, and
// calls got with each image's class logit and its gradient with respect to
// the image. fill writes image i into img. The parameter gradients that
// the backward passes leave are cleared.
func (r *runner) grads(n int, fill func(i int, img []float32), got func(i int, logit float32, g []float32)) {
	sz := r.size()
	defer nn.ZeroGrad(r.m)
	for lo := 0; lo < n; lo += r.batch {
		b := min(r.batch, n-lo)
		x := tensor.Ensure(&r.buf, b, r.h, r.w, r.c)
		for i := 0; i < b; i++ {
			fill(lo+i, x.Data[i*sz:(i+1)*sz])
		}
		y := r.m.Forward(x)
		k := y.Dim(1)
		dy := tensor.Ensure(&r.dy, y.Shape...)
		dy.Zero()
		for i := 0; i < b; i++ {
			dy.Data[i*k+r.class] = 1
		}
		yv := y.Contiguous().Values()
		logits := make([]float32, b)
		for i := range logits {
			logits[i] = yv[i*k+r.class]
		}
		g := r.m.Backward(dy).Contiguous().Values()
		for i := 0; i < b; i++ {
			got(lo+i, logits[i], g[i*sz:(i+1)*sz])
		}
	}
}
