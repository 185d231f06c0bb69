package unet_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/deepscope/deepscope/cuda/internal/gputest"
	"github.com/deepscope/deepscope/cuda/netstate"
	"github.com/deepscope/deepscope/cuda/unet"
	"github.com/deepscope/deepscope/models"
	"github.com/deepscope/deepscope/nn"
	"github.com/deepscope/deepscope/optim"
	"github.com/deepscope/deepscope/tensor"
)

// twin returns two U-Nets with the same weights, their batch norms'
// running statistics moved off their initial values so that evaluation
// mode is tested too.
func twin(in, base, depth int) (a, b *models.UNet) {
	mk := func() *models.UNet {
		u := models.NewUNet(rand.New(rand.NewPCG(1, 2)), models.UNetConfig{InChannels: in, Classes: 3, Base: base, Depth: depth})
		rng := rand.New(rand.NewPCG(7, 8))
		nn.Walk(u, func(name string, p *nn.Param) {
			if p.Grad == nil && !p.Int {
				for i := range p.Value.Values() {
					p.Value.Values()[i] = 0.5 + rng.Float32()
				}
			}
		})
		return u
	}
	return mk(), mk()
}

// batch returns n random crops and per-pixel targets in [0, 3).
func batch(n, size, channels int) (*tensor.Tensor, []int) {
	rng := rand.New(rand.NewPCG(3, 4))
	x := tensor.Randn(rng, 1, n, size, size, channels)
	y := make([]int, n*size*size)
	for i := range y {
		y[i] = rng.IntN(3)
	}
	return x, y
}

func TestLogitsMatchCPU(t *testing.T) {
	d := gputest.Device(t)
	for _, c := range []struct{ in, base, depth, size int }{{1, 8, 2, 16}, {3, 16, 4, 32}} {
		t.Run(fmt.Sprintf("in%d/base%d/depth%d", c.in, c.base, c.depth), func(t *testing.T) {
			cpu, gpu := twin(c.in, c.base, c.depth)
			x, _ := batch(4, c.size, c.in)
			nn.SetTraining(cpu, false)
			want := cpu.Forward(x)
			net, err := unet.New(d, gpu, 4, c.size, c.in)
			if err != nil {
				t.Fatal(err)
			}
			defer net.Close()
			got, err := net.Logits(x)
			if err != nil {
				t.Fatal(err)
			}
			if diff, scale := gputest.MaxDiff(got.Values(), want.Values()); !(diff <= 1e-4*math.Max(scale, 1)) {
				t.Errorf("logits differ by %g (scale %g)", diff, scale)
			}
		})
	}
}

// TestTrainStepMatchesCPU runs one step of twins on both sides and
// compares the losses and the updates: for SGD at learning rate 1 these
// are the gradients of every parameter, for AdamW the first step's.
func TestTrainStepMatchesCPU(t *testing.T) {
	d := gputest.Device(t)
	for _, c := range []struct {
		in, base, depth, size, batch int
		opt                          string
		hostLoss                     bool // TrainStepLoss with the loss on the host
	}{{1, 8, 2, 16, 4, "sgd", false}, {3, 8, 3, 32, 2, "sgd", false}, {1, 16, 4, 32, 4, "sgd", false}, {1, 8, 2, 16, 4, "adamw", false},
		{1, 16, 4, 32, 4, "sgd", true}, {1, 8, 2, 16, 4, "adamw", true}} {
		t.Run(fmt.Sprintf("in%d/base%d/depth%d/%s/hostloss%v", c.in, c.base, c.depth, c.opt, c.hostLoss), func(t *testing.T) {
			cpu, gpu := twin(c.in, c.base, c.depth)
			x, y := batch(c.batch, c.size, c.in)
			before := map[string][]float32{}
			nn.Walk(cpu, func(name string, p *nn.Param) { before[name] = p.Value.Clone().Values() })
			weights := []float32{1, 1, 2}
			var oc, og optim.Optimizer
			var err error
			cfg := netstate.Optimizer{Kind: c.opt, SkipNoDecay: true}
			lr := 1.0
			if c.opt == "sgd" {
				oc, _ = optim.NewSGD(cpu, optim.SGDConfig{LR: lr})
				og, err = optim.NewSGD(gpu, optim.SGDConfig{LR: lr})
			} else {
				lr = 1e-3
				cfg.WeightDecay = 0.05
				oc, _ = optim.NewAdamW(cpu, optim.AdamConfig{LR: lr, WeightDecay: 0.05, SkipNoDecay: true})
				og, err = optim.NewAdamW(gpu, optim.AdamConfig{LR: lr, WeightDecay: 0.05, SkipNoDecay: true})
			}
			if err != nil {
				t.Fatal(err)
			}
			net, err := unet.New(d, gpu, c.batch, c.size, c.in)
			if err != nil {
				t.Fatal(err)
			}
			defer net.Close()
			net.ClassWeights = weights
			if err := net.SetOptimizer(cfg, og); err != nil {
				t.Fatal(err)
			}
			ce := nn.CrossEntropy{Weight: weights}
			oc.ZeroGrad()
			nn.SetTraining(cpu, true)
			lossCPU := ce.Forward(cpu.Forward(x), y)
			cpu.Backward(ce.Backward())
			oc.Step()
			var lossGPU float32
			if c.hostLoss {
				hce := nn.CrossEntropy{Weight: weights}
				lossGPU, err = net.TrainStepLoss(x, lr, func(out *tensor.Tensor) (float32, *tensor.Tensor) {
					l := hce.Forward(out, y)
					return l, hce.Backward()
				})
			} else {
				lossGPU, err = net.TrainStep(x, y, lr)
			}
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(float64(lossCPU-lossGPU)) > 1e-4*math.Max(1, float64(lossCPU)) {
				t.Errorf("loss %g on the GPU, %g on the CPU", lossGPU, lossCPU)
			}
			if err := net.Store(); err != nil {
				t.Fatal(err)
			}
			cp := map[string]*nn.Param{}
			nn.Walk(cpu, func(name string, p *nn.Param) { cp[name] = p })
			compared := 0
			nn.Walk(gpu, func(name string, p *nn.Param) {
				want, got := cp[name].Value.Values(), p.Value.Values()
				if p.Grad != nil { // compare the updates
					b := before[name]
					dg, dw := make([]float32, len(b)), make([]float32, len(b))
					for i := range b {
						dg[i], dw[i] = got[i]-b[i], want[i]-b[i]
					}
					got, want = dg, dw
				}
				tol := 2e-3 * math.Max(gputest.MaxAbs(want), 1e-3)
				if c.opt != "sgd" && p.Grad != nil {
					// Adam's first step is about ±lr wherever the
					// gradient is not tiny; where it is, rounding can
					// flip its sign.
					tol = math.Max(tol, 2.5*lr)
				}
				if diff, _ := gputest.MaxDiff(got, want); !(diff <= tol) {
					t.Errorf("%s differs by %g (tolerance %g)", name, diff, tol)
				}
				compared++
			})
			if compared == 0 {
				t.Fatal("no parameters compared")
			}
			sc, sg := oc.State(), og.State()
			if len(sc) != len(sg) {
				t.Fatalf("optimizer state has %d tensors on the GPU side, %d on the CPU", len(sg), len(sc))
			}
			for i := range sc {
				if diff, scale := gputest.MaxDiff(sg[i].Value.Values(), sc[i].Value.Values()); !(diff <= 2e-3*math.Max(scale, 1e-6)) {
					t.Errorf("optimizer %s differs by %g (scale %g)", sc[i].Name, diff, scale)
				}
			}
		})
	}
}

func TestBadInput(t *testing.T) {
	d := gputest.Device(t)
	_, gpu := twin(1, 8, 2)
	if _, err := unet.New(d, gpu, 2, 18, 1); err == nil {
		t.Error("a crop size that is not a multiple of 2^depth was accepted")
	}
	net, err := unet.New(d, gpu, 2, 16, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer net.Close()
	x, y := batch(2, 16, 1)
	if _, err := net.TrainStep(x, y, 1); err == nil {
		t.Error("TrainStep before SetOptimizer gave no error")
	}
	badGrad := func(out *tensor.Tensor) (float32, *tensor.Tensor) { return 0, tensor.New(1) }
	if _, err := net.TrainStepLoss(x, 1, badGrad); err == nil {
		t.Error("TrainStepLoss before SetOptimizer gave no error")
	}
	o, _ := optim.NewSGD(gpu, optim.SGDConfig{LR: 1})
	if err := net.SetOptimizer(netstate.Optimizer{Kind: "sgd"}, o); err != nil {
		t.Fatal(err)
	}
	if _, err := net.TrainStepLoss(x, 1, badGrad); err == nil {
		t.Error("TrainStepLoss accepted a gradient of another shape than the outputs'")
	}
	y[5] = 3
	if _, err := net.TrainStep(x, y, 1); err == nil {
		t.Error("a target outside the classes was accepted")
	}
	if _, err := net.TrainStep(x, y[:10], 1); err == nil {
		t.Error("too few targets were accepted")
	}
}
