package optim_test

import (
	"fmt"

	"github.com/deepscope/deepscope/nn"
	"github.com/deepscope/deepscope/optim"
	"github.com/deepscope/deepscope/tensor"
)

// scale is a one-parameter model, y = w·x, to show the calls.
type scale struct{ w *nn.Param }

func (m *scale) Forward(x *tensor.Tensor) *tensor.Tensor   { return x }
func (m *scale) Backward(dy *tensor.Tensor) *tensor.Tensor { return dy }
func (m *scale) Params() []*nn.Param                       { return []*nn.Param{m.w} }

// Example trains one weight with AdamW, warm-up then cosine decay, and
// gradient clipping; torch gives the same numbers.
func Example() {
	m := &scale{w: nn.NewParam("weight", tensor.Full(1, 1))}
	opt, err := optim.NewAdamW(m, optim.AdamConfig{LR: 0.1, WeightDecay: 0.01})
	if err != nil {
		fmt.Println(err)
		return
	}
	sched := optim.Warmup{Steps: 2, StartFactor: 0.5, Then: optim.Cosine{Base: 0.1, Total: 4}}
	for step := 0; step < 6; step++ {
		opt.ZeroGrad()
		// Minimise (w-3)²: the gradient is 2(w-3).
		m.w.Grad.Data[0] = 2 * (m.w.Value.Data[0] - 3)
		optim.ClipGradNorm(opt.Params(), 1)
		opt.SetLR(sched.LR(step))
		opt.Step()
		fmt.Printf("step %d: lr %.3f w %.4f\n", step, opt.LR(), m.w.Value.Data[0])
	}
	// Output:
	// step 0: lr 0.050 w 1.0495
	// step 1: lr 0.075 w 1.1237
	// step 2: lr 0.100 w 1.2226
	// step 3: lr 0.085 w 1.3069
	// step 4: lr 0.050 w 1.3562
	// step 5: lr 0.015 w 1.3707
}
