package resnet_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/deepscope/deepscope/cuda"
	"github.com/deepscope/deepscope/cuda/internal/gputest"
	"github.com/deepscope/deepscope/cuda/netstate"
	"github.com/deepscope/deepscope/cuda/resnet"
	"github.com/deepscope/deepscope/models"
	"github.com/deepscope/deepscope/nn"
	"github.com/deepscope/deepscope/optim"
	"github.com/deepscope/deepscope/tensor"
)

// twin returns two copies of the named model with the same weights, without dropout.
func twin(t *testing.T, name string, size int) (a, b *models.ResNet) {
	t.Helper()
	mk := func() *models.ResNet {
		m, err := models.New(name, rand.New(rand.NewPCG(1, 2)), models.Spec{Classes: 5, Size: size})
		if err != nil {
			t.Fatal(err)
		}
		r := m.(*models.ResNet)
		r.Drop = nil
		return r
	}
	return mk(), mk()
}

func batch(size, n int) (*tensor.Tensor, []int) {
	rng := rand.New(rand.NewPCG(3, 4))
	x := tensor.Randn(rng, 1, n, size, size, 3)
	y := make([]int, n)
	for i := range y {
		y[i] = rng.IntN(5)
	}
	return x, y
}

func TestLogitsMatchCPU(t *testing.T) {
	d := gputest.Device(t)
	for _, name := range []string{"cellnet", "resnet18-medmnist", "resnet18", "resnet50"} {
		t.Run(name, func(t *testing.T) {
			size := 16
			if name == "resnet18" || name == "resnet50" {
				size = 32
			}
			cpu, gpu := twin(t, name, size)
			x, _ := batch(size, 6)
			nn.SetTraining(cpu, false)
			want := cpu.Forward(x)
			net, err := resnet.New(d, gpu, 4, size, 3)
			if err != nil {
				t.Fatal(err)
			}
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

func TestTrainStepMatchesCPU(t *testing.T) {
	d := gputest.Device(t)
	for _, c := range []struct {
		model, opt   string
		clip         float64
		size, images int
	}{{"cellnet", "sgd", 0, 16, 4}, {"resnet18-medmnist", "sgd", 0, 16, 4}, {"resnet18", "sgd", 0, 32, 4},
		{"resnet18", "sgd", 0, 64, 8}, {"cellnet", "sgd", 0.5, 16, 4}, {"cellnet", "adamw", 0, 16, 4}} {
		t.Run(fmt.Sprintf("%s/%dpx/%s/clip%g", c.model, c.size, c.opt, c.clip), func(t *testing.T) {
			cpu, gpu := twin(t, c.model, c.size)
			compareStep(t, d, cpu, gpu, c.size, c.images, c.opt, c.clip)
		})
	}
}

// TestBlocksMatchCPU checks each kind of block in a small ResNet. The whole
// ResNet-50 is not compared step for step: at 64 px and 8 images, noise of
// 1e-6 on the input alone moves its last block's gradients by 4-13% on the
// CPU (batch norm over 32 values per channel, 16 blocks deep), so the
// CPU's and the GPU's roundings part as much; ResNet-18 moves by 1e-5.
func TestBlocksMatchCPU(t *testing.T) {
	d := gputest.Device(t)
	for _, c := range []struct {
		name string
		cfg  models.ResNetConfig
		size int
	}{
		{"basic", models.ResNetConfig{Blocks: [4]int{1, 1, 0, 0}, Width: 16, SmallInput: true}, 8},
		{"bottleneck", models.ResNetConfig{Blocks: [4]int{1, 0, 0, 0}, Bottleneck: true, Width: 16, SmallInput: true}, 8},
		{"bottleneck-x2", models.ResNetConfig{Blocks: [4]int{2, 0, 0, 0}, Bottleneck: true, Width: 16, SmallInput: true}, 8},
		{"bottleneck-strided", models.ResNetConfig{Blocks: [4]int{1, 1, 0, 0}, Bottleneck: true, Width: 16, SmallInput: true}, 8},
		{"bottleneck-2048", models.ResNetConfig{Blocks: [4]int{1, 0, 0, 0}, Bottleneck: true, Width: 512, SmallInput: true}, 4},
		{"bottleneck-imagenet-stem", models.ResNetConfig{Blocks: [4]int{1, 0, 0, 0}, Bottleneck: true, Width: 16}, 32},
		{"bottleneck-torchinit", models.ResNetConfig{Blocks: [4]int{1, 0, 0, 0}, Bottleneck: true, Width: 16, SmallInput: true, TorchInit: true}, 8},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.cfg.Classes = 5
			mk := func() *models.ResNet { return models.NewResNet(rand.New(rand.NewPCG(5, 6)), c.cfg) }
			compareStep(t, d, mk(), mk(), c.size, 8, "sgd", 0)
		})
	}
}

// compareStep runs one training step of twins cpu and gpu on both sides
// and compares the losses, the updates (the gradients, for SGD at lr 1)
// and the optimizer state.
func compareStep(t *testing.T, d *cuda.Device, cpu, gpu *models.ResNet, size, images int, opt string, clip float64) {
	x, y := batch(size, images)
	before := map[string][]float32{}
	nn.Walk(cpu, func(name string, p *nn.Param) { before[name] = p.Value.Clone().Values() })
	var oc, og optim.Optimizer
	var err error
	cfg := netstate.Optimizer{Kind: opt, WeightDecay: 0.05, SkipNoDecay: true}
	lr := 1.0
	if opt == "sgd" {
		oc, _ = optim.NewSGD(cpu, optim.SGDConfig{LR: lr})
		og, _ = optim.NewSGD(gpu, optim.SGDConfig{LR: lr})
		cfg.WeightDecay = 0
	} else {
		lr = 1e-3
		oc, _ = optim.NewAdamW(cpu, optim.AdamConfig{LR: lr, WeightDecay: 0.05, SkipNoDecay: true})
		og, err = optim.NewAdamW(gpu, optim.AdamConfig{LR: lr, WeightDecay: 0.05, SkipNoDecay: true})
		if err != nil {
			t.Fatal(err)
		}
	}
	ce := nn.CrossEntropy{LabelSmoothing: 0.1}
	net, err := resnet.New(d, gpu, images, size, 3)
	if err != nil {
		t.Fatal(err)
	}
	net.LabelSmoothing = 0.1
	net.ClipNorm = clip
	if err := net.SetOptimizer(cfg, og); err != nil {
		t.Fatal(err)
	}
	// One step: after it, Adam's sign-like update lets the twins'
	// weights differ by up to 2*lr, so later steps are not comparable.
	oc.ZeroGrad()
	nn.SetTraining(cpu, true)
	lossCPU := ce.Forward(cpu.Forward(x), y)
	cpu.Backward(ce.Backward())
	if clip > 0 {
		if norm := optim.ClipGradNorm(oc.Params(), clip); norm <= clip {
			t.Fatalf("gradient norm %g is below the clipping norm %g: the test would not clip", norm, clip)
		}
	}
	oc.Step()
	lossGPU, err := net.TrainStep(x, y, lr, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("loss %g on the GPU, %g on the CPU", lossGPU, lossCPU)
	if math.Abs(float64(lossCPU-lossGPU)) > 1e-4*math.Max(1, float64(lossCPU)) {
		t.Errorf("loss %g on the GPU, %g on the CPU", lossGPU, lossCPU)
	}
	if err := net.Store(); err != nil {
		t.Fatal(err)
	}
	cp := map[string]*nn.Param{}
	nn.Walk(cpu, func(name string, p *nn.Param) { cp[name] = p })
	nn.Walk(gpu, func(name string, p *nn.Param) {
		want := cp[name].Value.Values()
		got := p.Value.Values()
		if opt == "sgd" && p.Grad != nil { // compare the steps: lr 1, so the gradients
			b := before[name]
			dg, dw := make([]float32, len(b)), make([]float32, len(b))
			for i := range b {
				dg[i], dw[i] = got[i]-b[i], want[i]-b[i]
			}
			got, want = dg, dw
		}
		tol := 2e-3 * math.Max(gputest.MaxAbs(want), 1e-3)
		if opt != "sgd" || p.Grad == nil {
			// Adam's first step is about ±lr wherever the gradient
			// is not tiny; where it is, rounding can flip its sign.
			tol = math.Max(tol, 2.5*lr)
		}
		if diff, _ := gputest.MaxDiff(got, want); !(diff <= tol) {
			t.Errorf("%s differs by %g (tolerance %g)", name, diff, tol)
		}
	})
	sc, sg := oc.State(), og.State()
	if len(sc) != len(sg) {
		t.Fatalf("optimizer state has %d tensors on the GPU side, %d on the CPU", len(sg), len(sc))
	}
	for i := range sc {
		if diff, scale := gputest.MaxDiff(sg[i].Value.Values(), sc[i].Value.Values()); !(diff <= 2e-3*math.Max(scale, 1e-6)) {
			t.Errorf("optimizer %s differs by %g (scale %g)", sc[i].Name, diff, scale)
		}
	}
}
