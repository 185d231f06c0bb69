package cuda_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/deepscope/deepscope/cuda"
	"github.com/deepscope/deepscope/cuda/internal/gputest"
	"github.com/deepscope/deepscope/nn"
	"github.com/deepscope/deepscope/optim"
	"github.com/deepscope/deepscope/tensor"
)

// upload copies v to a new device buffer.
func upload(t testing.TB, d *cuda.Device, v []float32) cuda.Mem {
	t.Helper()
	m, err := d.Alloc(max(len(v), 1))
	if err != nil {
		t.Fatal(err)
	}
	d.Upload(m, v)
	return m
}

func download(t testing.TB, d *cuda.Device, m cuda.Mem, n int) []float32 {
	t.Helper()
	out := make([]float32, n)
	if err := d.Download(out, m); err != nil {
		t.Fatal(err)
	}
	return out
}

// near fails unless got and want agree within tol relative to want's scale.
func near(t *testing.T, what string, got, want []float32, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	scale := 1e-6
	for _, v := range want {
		scale = math.Max(scale, math.Abs(float64(v)))
	}
	worst, at := 0.0, 0
	for i := range got {
		e := math.Abs(float64(got[i]) - float64(want[i]))
		if !(e <= worst) {
			worst, at = e, i
		}
	}
	if !(worst <= tol*scale) {
		t.Errorf("%s: worst difference %g at %d (got %g, want %g), scale %g, tolerance %g", what, worst, at, got[at], want[at], scale, tol*scale)
	}
}

func TestNoDriverIsAnError(t *testing.T) {
	if _, err := cuda.Count(); err != nil {
		if _, err2 := cuda.Open(0); err2 == nil {
			t.Fatal("Open succeeded where Count failed")
		}
		t.Logf("as expected without a GPU: %v", err)
		return
	}
	if _, err := cuda.Open(1 << 20); err == nil {
		t.Fatal("Open of a device that does not exist succeeded")
	}
}

func TestGemm(t *testing.T) {
	d := gputest.Device(t)
	rng := rand.New(rand.NewPCG(1, 2))
	for _, c := range []struct {
		ta, tb  bool
		m, n, k int
	}{{false, false, 7, 5, 3}, {false, true, 33, 17, 65}, {true, false, 16, 9, 31}, {true, true, 5, 40, 8}, {false, true, 256, 64, 576}} {
		t.Run(fmt.Sprintf("%v%v_%dx%dx%d", c.ta, c.tb, c.m, c.n, c.k), func(t *testing.T) {
			a := tensor.Randn(rng, 1, c.m*c.k).Data
			b := tensor.Randn(rng, 1, c.k*c.n).Data
			cc := tensor.Randn(rng, 1, c.m*c.n).Data
			lda, ldb := c.k, c.n
			if c.ta {
				lda = c.m
			}
			if c.tb {
				ldb = c.k
			}
			da, db, dc := upload(t, d, a), upload(t, d, b), upload(t, d, cc)
			want := append([]float32(nil), cc...)
			tensor.Gemm(c.ta, c.tb, c.m, c.n, c.k, 1.5, a, lda, b, ldb, 0.5, want, c.n)
			d.Gemm(c.ta, c.tb, c.m, c.n, c.k, 1.5, da, lda, db, ldb, 0.5, dc, c.n)
			near(t, "C", download(t, d, dc, len(want)), want, 1e-5)
		})
	}
}

func TestConvMatchesCPU(t *testing.T) {
	d := gputest.Device(t)
	rng := rand.New(rand.NewPCG(3, 4))
	for _, s := range []cuda.ConvShape{
		{N: 2, H: 6, W: 6, In: 3, Out: 8, Kernel: 3, Stride: 1, Padding: 1},
		{N: 3, H: 7, W: 5, In: 8, Out: 16, Kernel: 3, Stride: 2, Padding: 1},
		{N: 2, H: 6, W: 6, In: 8, Out: 12, Kernel: 1, Stride: 2, Padding: 0},
		{N: 4, H: 8, W: 8, In: 64, Out: 256, Kernel: 1, Stride: 1, Padding: 0},
		{N: 4, H: 8, W: 8, In: 256, Out: 64, Kernel: 1, Stride: 1, Padding: 0},
		{N: 4, H: 16, W: 16, In: 3, Out: 64, Kernel: 7, Stride: 2, Padding: 3},
		{N: 8, H: 2, W: 2, In: 512, Out: 2048, Kernel: 1, Stride: 1, Padding: 0},
		{N: 8, H: 2, W: 2, In: 2048, Out: 512, Kernel: 1, Stride: 1, Padding: 0},
		{N: 8, H: 4, W: 4, In: 1024, Out: 2048, Kernel: 1, Stride: 2, Padding: 0},
	} {
		t.Run(fmt.Sprintf("%+v", s), func(t *testing.T) {
			cpu := nn.NewConv2d(rng, nn.ConvConfig{In: s.In, Out: s.Out, Kernel: s.Kernel, Stride: s.Stride, Padding: s.Padding})
			x := tensor.Randn(rng, 1, s.N, s.H, s.W, s.In)
			y := cpu.Forward(x)
			dy := tensor.Randn(rng, 1, y.Shape...)
			dx := cpu.Backward(dy)
			conv, err := d.NewConv(s, true)
			if err != nil {
				t.Fatal(err)
			}
			wk := make([]float32, cpu.Weight.Value.Len())
			cuda.ToKRSC(wk, cpu.Weight.Value.Values(), s.Out, s.In, s.Kernel)
			gx, gw := upload(t, d, x.Values()), upload(t, d, wk)
			gy, gdy := upload(t, d, make([]float32, y.Len())), upload(t, d, dy.Values())
			gdx, gdw := upload(t, d, make([]float32, x.Len())), upload(t, d, make([]float32, len(wk)))
			conv.Forward(d, gx, gw, gy, 0)
			conv.BackwardData(d, gw, gdy, gdx, 0)
			conv.BackwardFilter(d, gx, gdy, gdw, 1)
			near(t, "y", download(t, d, gy, y.Len()), y.Values(), 1e-5)
			near(t, "dx", download(t, d, gdx, x.Len()), dx.Values(), 1e-5)
			dw := make([]float32, len(wk))
			cuda.FromKRSC(dw, download(t, d, gdw, len(wk)), s.Out, s.In, s.Kernel)
			near(t, "dw", dw, cpu.Weight.Grad.Values(), 1e-5)
		})
	}
}

func TestBatchNormMatchesCPU(t *testing.T) {
	d := gputest.Device(t)
	rng := rand.New(rand.NewPCG(5, 6))
	for _, c := range []struct {
		name            string
		relu, add, eval bool
	}{{"plain", false, false, false}, {"relu", true, false, false}, {"add-relu", false, true, false}, {"eval-relu", true, false, true}} {
		t.Run(c.name, func(t *testing.T) {
			const n, h, w, ch = 4, 5, 3, 12
			cpu := nn.NewBatchNorm2d(ch)
			cpu.ReLU = c.relu
			for i := range ch {
				cpu.Weight.Value.Data[i] = float32(0.5 + rng.Float64())
				cpu.Bias.Value.Data[i] = float32(rng.NormFloat64() * 0.3)
				cpu.RunningMean.Value.Data[i] = float32(rng.NormFloat64() * 0.1)
				cpu.RunningVar.Value.Data[i] = float32(0.5 + rng.Float64())
			}
			wv, bv := cpu.Weight.Value.Clone().Values(), cpu.Bias.Value.Clone().Values()
			rm, rv := cpu.RunningMean.Value.Clone().Values(), cpu.RunningVar.Value.Clone().Values()
			cpu.SetTraining(!c.eval)
			x := tensor.Randn(rng, 2, n, h, w, ch)
			for i := range x.Data {
				x.Data[i] += 1
			}
			res := tensor.Randn(rng, 1, n, h, w, ch)
			var y, dx, dres *tensor.Tensor
			dy := tensor.Randn(rng, 1, n, h, w, ch)
			if c.add {
				y = cpu.ForwardAddReLU(x, res)
				dx, dres = cpu.BackwardAddReLU(dy)
			} else {
				y = cpu.Forward(x)
				dx = cpu.Backward(dy)
			}
			params := upload(t, d, append(append(append(append(append([]float32{}, wv...), bv...), rm...), rv...), make([]float32, 2*ch)...))
			bn, err := d.NewBatchNorm(ch, params.Slice(0, ch), params.Slice(ch, 2*ch), params.Slice(4*ch, 5*ch),
				params.Slice(5*ch, 6*ch), params.Slice(2*ch, 3*ch), params.Slice(3*ch, 4*ch))
			if err != nil {
				t.Fatal(err)
			}
			rows := n * h * w
			gx, gy, gdy := upload(t, d, x.Values()), upload(t, d, make([]float32, x.Len())), upload(t, d, dy.Values())
			gdx, gdres := upload(t, d, make([]float32, x.Len())), upload(t, d, make([]float32, x.Len()))
			var gres cuda.Mem
			if c.add {
				gres = upload(t, d, res.Values())
			} else {
				gdres = cuda.Mem{}
			}
			bn.Forward(d, gx, gres, gy, rows, !c.eval, c.relu)
			bn.Backward(d, gx, gy, gdy, gdres, gdx, rows, c.relu || c.add)
			near(t, "y", download(t, d, gy, x.Len()), y.Values(), 1e-5)
			near(t, "dx", download(t, d, gdx, x.Len()), dx.Values(), 1e-4)
			if c.add {
				near(t, "dres", download(t, d, gdres, x.Len()), dres.Values(), 1e-6)
			}
			p := download(t, d, params, 6*ch)
			near(t, "running_mean", p[2*ch:3*ch], cpu.RunningMean.Value.Values(), 1e-6)
			near(t, "running_var", p[3*ch:4*ch], cpu.RunningVar.Value.Values(), 1e-6)
			near(t, "weight grad", p[4*ch:5*ch], cpu.Weight.Grad.Values(), 1e-5)
			near(t, "bias grad", p[5*ch:6*ch], cpu.Bias.Grad.Values(), 1e-5)
		})
	}
}

func TestMaxPoolMatchesCPU(t *testing.T) {
	d := gputest.Device(t)
	rng := rand.New(rand.NewPCG(13, 14))
	const n, h, w, c = 4, 16, 16, 64
	x := tensor.Randn(rng, 1, n, h, w, c)
	for i, v := range x.Data { // after a ReLU, as in ResNet's stem: many zeros
		x.Data[i] = max(v, 0)
	}
	cpu := nn.NewMaxPool2d(3, 2, 1)
	y := cpu.Forward(x)
	dy := tensor.Randn(rng, 1, y.Shape...)
	dx := cpu.Backward(dy)
	p, err := d.NewMaxPool(n, h, w, c, 3, 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	gx, gy := upload(t, d, x.Values()), upload(t, d, make([]float32, y.Len()))
	gdy, gdx := upload(t, d, dy.Values()), upload(t, d, make([]float32, x.Len()))
	p.Forward(d, gx, gy)
	p.Backward(d, gx, gy, gdy, gdx)
	near(t, "y", download(t, d, gy, y.Len()), y.Values(), 0)
	// Where a window's maximum is tied (zeros after the ReLU), the
	// gradient may go to either; compare where x > 0.
	got := download(t, d, gdx, x.Len())
	want := append([]float32(nil), dx.Values()...)
	for i, v := range x.Data {
		if v == 0 {
			got[i], want[i] = 0, 0
		}
	}
	near(t, "dx where x > 0", got, want, 1e-6)
}

func TestCrossEntropyMatchesCPU(t *testing.T) {
	d := gputest.Device(t)
	rng := rand.New(rand.NewPCG(7, 8))
	const rows, classes = 37, 5
	for _, c := range []struct {
		eps     float32
		weights []float32
	}{{0, nil}, {0.1, nil}, {0.2, []float32{1, 2, 0.5, 1.5, 3}}} {
		t.Run(fmt.Sprintf("eps%g_w%v", c.eps, c.weights != nil), func(t *testing.T) {
			logits := tensor.Randn(rng, 2, rows, classes)
			y := make([]int, rows)
			y32 := make([]int32, rows)
			for i := range y {
				y[i] = rng.IntN(classes)
				y32[i] = int32(y[i])
			}
			ce := nn.CrossEntropy{LabelSmoothing: c.eps, Weight: c.weights}
			loss := ce.Forward(logits, y)
			grad := ce.Backward()
			gl := upload(t, d, logits.Values())
			gt := upload(t, d, make([]float32, rows))
			d.UploadInt32(gt, y32)
			var gw cuda.Mem
			if c.weights != nil {
				gw = upload(t, d, c.weights)
			}
			gg, out := upload(t, d, make([]float32, rows*classes)), upload(t, d, []float32{0})
			d.CrossEntropy(gl, gt, gw, rows, classes, c.eps, gg, out)
			near(t, "loss", download(t, d, out, 1), []float32{loss}, 1e-5)
			near(t, "grad", download(t, d, gg, rows*classes), grad.Values(), 1e-5)
		})
	}
}

func TestGlobalAvgPoolMatchesCPU(t *testing.T) {
	d := gputest.Device(t)
	rng := rand.New(rand.NewPCG(9, 10))
	x := tensor.Randn(rng, 1, 3, 4, 5, 8)
	var pool nn.GlobalAvgPool
	y := pool.Forward(x)
	dy := tensor.Randn(rng, 1, y.Shape...)
	dx := pool.Backward(dy)
	gx, gy := upload(t, d, x.Values()), upload(t, d, make([]float32, y.Len()))
	gdy, gdx := upload(t, d, dy.Values()), upload(t, d, make([]float32, x.Len()))
	d.GlobalAvgPool(gx, gy, 3, 20, 8)
	d.GlobalAvgPoolBackward(gdy, gdx, 3, 20, 8)
	near(t, "y", download(t, d, gy, y.Len()), y.Values(), 1e-6)
	near(t, "dx", download(t, d, gdx, x.Len()), dx.Values(), 1e-6)
}

// TestConcatSplitAdd checks the U-Net's joins: channel concatenation, its
// inverse, and the in-place sum of the skip gradients.
func TestConcatSplitAdd(t *testing.T) {
	d := gputest.Device(t)
	rng := rand.New(rand.NewPCG(11, 12))
	rows, ca, cb := 37, 5, 3
	a, b := tensor.Randn(rng, 1, rows, ca).Values(), tensor.Randn(rng, 1, rows, cb).Values()
	want := make([]float32, 0, rows*(ca+cb))
	for r := range rows {
		want = append(want, a[r*ca:(r+1)*ca]...)
		want = append(want, b[r*cb:(r+1)*cb]...)
	}
	ga, gb := upload(t, d, a), upload(t, d, b)
	cat := upload(t, d, make([]float32, len(want)))
	d.ConcatChannels(cat, ga, gb, rows, ca, cb)
	near(t, "concat", download(t, d, cat, len(want)), want, 0)
	sa, sb := upload(t, d, make([]float32, len(a))), upload(t, d, make([]float32, len(b)))
	d.SplitChannels(sa, sb, cat, rows, ca, cb)
	near(t, "split a", download(t, d, sa, len(a)), a, 0)
	near(t, "split b", download(t, d, sb, len(b)), b, 0)
	d.AddInto(sa, ga, len(a))
	twice := make([]float32, len(a))
	for i, v := range a {
		twice[i] = 2 * v
	}
	near(t, "add", download(t, d, sa, len(a)), twice, 0)
}

func TestDropoutKeepsOneMinusP(t *testing.T) {
	d := gputest.Device(t)
	const n, p = 1 << 16, 0.25
	ones := make([]float32, n)
	for i := range ones {
		ones[i] = 1
	}
	gx, gy, gm := upload(t, d, ones), upload(t, d, make([]float32, n)), upload(t, d, make([]float32, n))
	d.Dropout(gx, gy, gm, n, p, 42)
	y := download(t, d, gy, n)
	kept := 0
	for _, v := range y {
		switch v {
		case 0:
		case float32(1 / (1 - p)):
			kept++
		default:
			t.Fatalf("dropout output %g, want 0 or %g", v, 1/(1-p))
		}
	}
	if f := float64(kept) / n; math.Abs(f-(1-p)) > 0.01 {
		t.Errorf("kept %.4f of the values, want %.2f", f, 1-p)
	}
}

func TestLayoutRoundTrip(t *testing.T) {
	src := make([]float32, 4*3*3*3)
	for i := range src {
		src[i] = float32(i)
	}
	k := make([]float32, len(src))
	back := make([]float32, len(src))
	cuda.ToKRSC(k, src, 4, 3, 3)
	cuda.FromKRSC(back, k, 4, 3, 3)
	for i := range src {
		if back[i] != src[i] {
			t.Fatalf("round trip changed element %d: %g, want %g", i, back[i], src[i])
		}
	}
	// [o=0][c=1][r=0] moves to [o=0][r=0][c=1].
	if k[1] != src[9] {
		t.Errorf("KRSC[0,0,0,1] = %g, want %g", k[1], src[9])
	}
}

// TestOptimizersMatchOptim runs two steps of AdamW, Adam and Nesterov SGD
// on the device and in package optim from the same gradients.
func TestOptimizersMatchOptim(t *testing.T) {
	d := gputest.Device(t)
	for _, kind := range []string{"adamw", "adam", "sgd"} {
		t.Run(kind, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(11, 12))
			lin := nn.NewLinear(rng, 7, 5, false)
			const lr, wd, mom = 0.01, 0.1, 0.9
			var opt optim.Optimizer
			var err error
			switch kind {
			case "adamw":
				opt, err = optim.NewAdamW(lin, optim.AdamConfig{LR: lr, WeightDecay: wd})
			case "adam":
				opt, err = optim.NewAdam(lin, optim.AdamConfig{LR: lr, WeightDecay: wd})
			default:
				opt, err = optim.NewSGD(lin, optim.SGDConfig{LR: lr, Momentum: mom, Nesterov: true, WeightDecay: wd})
			}
			if err != nil {
				t.Fatal(err)
			}
			n := lin.Weight.Value.Len()
			w := upload(t, d, lin.Weight.Value.Values())
			m, v := upload(t, d, make([]float32, n)), upload(t, d, make([]float32, n))
			g := upload(t, d, make([]float32, n))
			for step := 1; step <= 2; step++ {
				grad := tensor.Randn(rng, 1, n).Data
				copy(lin.Weight.Grad.Values(), grad)
				d.Upload(g, grad)
				opt.Step()
				if kind == "sgd" {
					d.SGD(w, g, m, wd, mom, 1, -lr, step == 1, true)
					continue
				}
				bc1 := 1 - math.Pow(0.9, float64(step))
				bc2 := 1 - math.Pow(0.999, float64(step))
				s := cuda.AdamStep{DecayMul: 1, W1: float32(1 - 0.9), B2: 0.999, OmB2: float32(1 - 0.999),
					BC2Sqrt: float32(math.Sqrt(bc2)), Eps: 1e-8, NegStep: float32(-(lr / bc1))}
				if kind == "adamw" {
					s.DecayMul = float32(1 - lr*wd)
				} else {
					s.WD = wd
				}
				d.Adam(w, g, m, v, s)
			}
			near(t, "weight", download(t, d, w, n), lin.Weight.Value.Values(), 1e-7)
		})
	}
}
