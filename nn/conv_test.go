package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/deepscope/deepscope/tensor"
)

// convCase is one convolution configuration and input shape [N, H, W, In].
type convCase struct {
	cfg        ConvConfig
	n, h, w    int
	smallChunk bool // force many chunks of lowered rows
}

func (c convCase) String() string {
	return fmt.Sprintf("%+v/%dx%dx%d/small=%v", c.cfg, c.n, c.h, c.w, c.smallChunk)
}

var convCases = []convCase{
	{cfg: ConvConfig{In: 3, Out: 4, Kernel: 3, Padding: 1}, n: 2, h: 5, w: 5},
	{cfg: ConvConfig{In: 3, Out: 4, Kernel: 3, Padding: 1, Bias: true}, n: 2, h: 5, w: 5, smallChunk: true},
	{cfg: ConvConfig{In: 4, Out: 5, Kernel: 3, Stride: 2, Padding: 1, Bias: true}, n: 2, h: 7, w: 6},
	{cfg: ConvConfig{In: 4, Out: 5, Kernel: 3, Stride: 2, Padding: 1}, n: 3, h: 7, w: 6, smallChunk: true},
	{cfg: ConvConfig{In: 5, Out: 3, Kernel: 1, Bias: true}, n: 2, h: 3, w: 4},
	{cfg: ConvConfig{In: 4, Out: 6, Kernel: 1, Stride: 2}, n: 2, h: 5, w: 3},
	{cfg: ConvConfig{In: 2, Out: 3, Kernel: 5, Stride: 3, Padding: 2, Bias: true}, n: 1, h: 9, w: 8},
	{cfg: ConvConfig{In: 4, Out: 6, Kernel: 3, Padding: 1, Groups: 2, Bias: true}, n: 2, h: 4, w: 5},
	{cfg: ConvConfig{In: 6, Out: 4, Kernel: 1, Groups: 2}, n: 2, h: 3, w: 3},
	{cfg: ConvConfig{In: 6, Out: 6, Kernel: 3, Stride: 2, Padding: 1, Groups: 3}, n: 2, h: 5, w: 5, smallChunk: true},
	{cfg: ConvConfig{In: 4, Out: 4, Kernel: 3, Padding: 1, Groups: 4, Bias: true}, n: 2, h: 5, w: 4},
	{cfg: ConvConfig{In: 5, Out: 5, Kernel: 3, Stride: 2, Groups: 5}, n: 2, h: 7, w: 7},
	{cfg: ConvConfig{In: 3, Out: 2, Kernel: 2, Stride: 2}, n: 2, h: 4, w: 6},
}

// withConvChunk runs fn with convColFloats lowered so that chunks hold a few rows.
func withConvChunk(small bool, fn func()) {
	if small {
		old := convColFloats
		convColFloats = 40
		defer func() { convColFloats = old }()
	}
	fn()
}

// naiveConv is the direct definition of PyTorch's Conv2d, in float64, on
// channels-last input and an OIHW weight.
func naiveConv(cfg ConvConfig, x, w, b *tensor.Tensor) []float64 {
	cfg = cfg.normalised("test")
	n, h, wd := x.Dim(0), x.Dim(1), x.Dim(2)
	k, s, p := cfg.Kernel, cfg.Stride, cfg.Padding
	oh, ow := (h+2*p-k)/s+1, (wd+2*p-k)/s+1
	ig, og := cfg.In/cfg.Groups, cfg.Out/cfg.Groups
	y := make([]float64, n*oh*ow*cfg.Out)
	for b0 := 0; b0 < n; b0++ {
		for oy := 0; oy < oh; oy++ {
			for ox := 0; ox < ow; ox++ {
				for o := 0; o < cfg.Out; o++ {
					var acc float64
					if b != nil {
						acc = float64(b.Data[o])
					}
					g := o / og
					for i := 0; i < ig; i++ {
						for kh := 0; kh < k; kh++ {
							for kw := 0; kw < k; kw++ {
								iy, ix := oy*s-p+kh, ox*s-p+kw
								if iy < 0 || iy >= h || ix < 0 || ix >= wd {
									continue
								}
								acc += float64(x.At(b0, iy, ix, g*ig+i)) * float64(w.At(o, i, kh, kw))
							}
						}
					}
					y[((b0*oh+oy)*ow+ox)*cfg.Out+o] = acc
				}
			}
		}
	}
	return y
}

func assertClose64(t *testing.T, name string, got []float32, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", name, len(got), len(want))
	}
	for i, v := range got {
		if math.Abs(float64(v)-want[i]) > tol*(1+math.Abs(want[i])) {
			t.Fatalf("%s: value %d = %g, want %g", name, i, v, want[i])
		}
	}
}

func TestConv2dForwardMatchesNaive(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	for _, c := range convCases {
		l := NewConv2d(rng, c.cfg)
		x := tensor.Randn(rng, 1, c.n, c.h, c.w, c.cfg.In)
		var b *tensor.Tensor
		if l.Bias != nil {
			b = l.Bias.Value
		}
		want := naiveConv(c.cfg, x, l.Weight.Value, b)
		withConvChunk(c.smallChunk, func() {
			y := l.Forward(x)
			assertClose64(t, c.String(), y.Values(), want, 1e-5)
			// A second call reuses the buffers and must give the same answer.
			assertClose64(t, c.String()+"/again", l.Forward(x).Values(), want, 1e-5)
		})
	}
}

func TestConv2dGrad(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 2))
	for _, c := range convCases {
		l := NewConv2d(rng, c.cfg)
		x := tensor.Randn(rng, 1, c.n, c.h, c.w, c.cfg.In)
		withConvChunk(c.smallChunk, func() {
			checkGrads(t, gradCase{name: c.String(), m: l, x: x})
		})
	}
}

// Backward accumulates into the parameter gradients: two backward passes
// give twice the gradient of one.
func TestConv2dBackwardAccumulates(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	for _, c := range convCases {
		l := NewConv2d(rng, c.cfg)
		x := tensor.Randn(rng, 1, c.n, c.h, c.w, c.cfg.In)
		y := l.Forward(x)
		dy := tensor.Randn(rng, 1, y.Shape...)
		l.Backward(dy)
		once := l.Weight.Grad.Clone()
		l.Forward(x)
		l.Backward(dy)
		for i, v := range l.Weight.Grad.Values() {
			if math.Abs(float64(v-2*once.Data[i])) > 1e-5*(1+math.Abs(float64(v))) {
				t.Fatalf("%v: weight grad %d = %g after two passes, %g after one", c, i, v, once.Data[i])
			}
		}
	}
}

// BackwardAdd adds the input gradient onto what it is given and leaves the
// parameter gradients as Backward does, for every kind of convolution
// (im2col, pointwise, depthwise, strided, chunked).
func TestConv2dBackwardAdd(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	for _, c := range convCases {
		l := NewConv2d(rng, c.cfg)
		x := tensor.Randn(rng, 1, c.n, c.h, c.w, c.cfg.In)
		withConvChunk(c.smallChunk, func() {
			y := l.Forward(x)
			dy := tensor.Randn(rng, 1, y.Shape...)
			ZeroGrad(l)
			dx := l.Backward(dy).Clone()
			wg := l.Weight.Grad.Clone()
			into := tensor.Randn(rng, 1, x.Shape...)
			want := make([]float64, into.Len())
			for i, v := range into.Values() {
				want[i] = float64(v) + float64(dx.Data[i])
			}
			ZeroGrad(l)
			if got := l.BackwardAdd(dy, into); got != into {
				t.Fatalf("%v: BackwardAdd returned a tensor other than into", c)
			}
			assertClose64(t, c.String()+"/dx", into.Values(), want, 1e-5)
			wantW := make([]float64, wg.Len())
			for i, v := range wg.Values() {
				wantW[i] = float64(v)
			}
			assertClose64(t, c.String()+"/dw", l.Weight.Grad.Values(), wantW, 1e-6)
		})
	}
}

// batchOfOneGradSq returns each sample's squared gradient norm from a separate
// batch-of-one forward and backward.
func batchOfOneGradSq(m Module, x, dy *tensor.Tensor) []float64 {
	n := x.Dim(0)
	sq := make([]float64, n)
	xs, ds := x.Len()/n, dy.Len()/n
	for i := 0; i < n; i++ {
		xi := tensor.FromSlice(append([]float32(nil), x.Data[i*xs:(i+1)*xs]...), append([]int{1}, x.Shape[1:]...)...)
		di := tensor.FromSlice(append([]float32(nil), dy.Data[i*ds:(i+1)*ds]...), append([]int{1}, dy.Shape[1:]...)...)
		ZeroGrad(m)
		m.Forward(xi)
		m.Backward(di)
		for _, p := range Params(m) {
			sq[i] += sumSquares(p.Grad.Values())
		}
	}
	return sq
}

func TestConv2dPerSampleGradSq(t *testing.T) {
	cases := append([]convCase{
		// Small maps with many channels take the ghost-norm path.
		{cfg: ConvConfig{In: 8, Out: 16, Kernel: 3, Padding: 1, Bias: true}, n: 3, h: 2, w: 2},
		{cfg: ConvConfig{In: 8, Out: 12, Kernel: 3, Padding: 1, Groups: 2}, n: 2, h: 2, w: 3},
		{cfg: ConvConfig{In: 16, Out: 16, Kernel: 1}, n: 2, h: 2, w: 2},
	}, convCases...)
	rng := rand.New(rand.NewPCG(4, 4))
	for _, c := range cases {
		l := NewConv2d(rng, c.cfg)
		x := tensor.Randn(rng, 1, c.n, c.h, c.w, c.cfg.In)
		withConvChunk(c.smallChunk, func() {
			y := l.Forward(x)
			dy := tensor.Randn(rng, 1, y.Shape...)
			l.Backward(dy)
			got := make([]float64, c.n)
			got[0] = 1 // it adds
			l.AddPerSampleGradSq(got)
			got[0]--
			want := batchOfOneGradSq(l, x, dy)
			for i := range want {
				if math.Abs(got[i]-want[i]) > 1e-4*want[i]+1e-6 {
					t.Errorf("%v: sample %d: %g, batch-of-one %g", c, i, got[i], want[i])
				}
			}
		})
	}
}

// After a warm-up step, a forward and backward allocate no buffers: at
// most the small closures handed to the worker pool.
func TestSpatialLayersStepAllocatesLittle(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	cases := []struct {
		name  string
		m     Module
		shape []int
	}{
		{"conv", NewConv2d(rng, ConvConfig{In: 6, Out: 8, Kernel: 3, Stride: 2, Padding: 1, Bias: true}), []int{4, 9, 9, 6}},
		{"conv1x1", NewConv2d(rng, ConvConfig{In: 6, Out: 8, Kernel: 1}), []int{4, 9, 9, 6}},
		{"grouped", NewConv2d(rng, ConvConfig{In: 6, Out: 8, Kernel: 3, Padding: 1, Groups: 2}), []int{4, 9, 9, 6}},
		{"depthwise", NewConv2d(rng, ConvConfig{In: 6, Out: 6, Kernel: 3, Padding: 1, Groups: 6}), []int{4, 9, 9, 6}},
		{"convT", NewConvTranspose2d(rng, ConvTransposeConfig{ConvConfig{In: 6, Out: 4, Kernel: 2, Stride: 2, Bias: true}, 0}), []int{4, 9, 9, 6}},
		{"batchnorm", NewBatchNorm2d(6), []int{4, 9, 9, 6}},
		{"groupnorm", NewGroupNorm(3, 6), []int{4, 9, 9, 6}},
		{"maxpool", NewMaxPool2d(3, 2, 1), []int{4, 9, 9, 6}},
		{"avgpool", NewAvgPool2d(3, 2, 1), []int{4, 9, 9, 6}},
		{"adaptive", NewAdaptiveAvgPool2d(2, 3), []int{4, 9, 9, 6}},
		{"global", NewGlobalAvgPool(), []int{4, 9, 9, 6}},
		{"nearest", NewUpsample(2, "nearest"), []int{4, 9, 9, 6}},
		{"bilinear", NewUpsample(2, "bilinear"), []int{4, 9, 9, 6}},
		// Layers of different sizes in turn share the scratch buffers.
		{"network", NewSequential(
			NewConv2d(rng, ConvConfig{In: 6, Out: 16, Kernel: 3, Padding: 1}),
			NewBatchNorm2d(16),
			NewConv2d(rng, ConvConfig{In: 16, Out: 32, Kernel: 3, Stride: 2, Padding: 1}),
			NewConvTranspose2d(rng, ConvTransposeConfig{ConvConfig{In: 32, Out: 8, Kernel: 3, Stride: 2, Padding: 1}, 0}),
			NewConv2d(rng, ConvConfig{In: 8, Out: 8, Kernel: 5, Padding: 2, Groups: 8}),
			NewConv2d(rng, ConvConfig{In: 8, Out: 4, Kernel: 1}),
		), []int{4, 9, 9, 6}},
	}
	for _, c := range cases {
		x := tensor.Randn(rng, 1, c.shape...)
		dy := tensor.Randn(rng, 1, c.m.Forward(x).Shape...)
		c.m.Backward(dy)
		if ps, ok := c.m.(PerSampler); ok {
			ps.AddPerSampleGradSq(make([]float64, c.shape[0]))
		}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		const steps = 20
		for range steps {
			c.m.Forward(x)
			c.m.Backward(dy)
		}
		runtime.ReadMemStats(&after)
		layers := uint64(1)
		if sq, ok := c.m.(*Sequential); ok {
			layers = uint64(len(sq.Layers))
		}
		if per := (after.TotalAlloc - before.TotalAlloc) / steps; per > 2048*layers {
			t.Errorf("%s: %d bytes allocated per step", c.name, per)
		}
	}
}

func TestConv2dInit(t *testing.T) {
	rng := rand.New(rand.NewPCG(6, 6))
	l := NewConv2d(rng, ConvConfig{In: 16, Out: 32, Kernel: 3, Groups: 2, Bias: true})
	if got := l.Weight.Value.Shape; !equalInts(got, []int{32, 8, 3, 3}) {
		t.Fatalf("weight shape %v", got)
	}
	bound := 1 / math.Sqrt(8*9)
	var ss float64
	for _, v := range l.Weight.Value.Values() {
		if math.Abs(float64(v)) > bound {
			t.Fatalf("weight %g outside ±%g", v, bound)
		}
		ss += float64(v) * float64(v)
	}
	// Uniform on ±b has variance b²/3.
	if v := ss / float64(l.Weight.Value.Len()); math.Abs(v-bound*bound/3) > 0.15*bound*bound/3 {
		t.Errorf("weight variance %g, want about %g", v, bound*bound/3)
	}
	if !l.Bias.NoDecay || l.Bias.Value.Len() != 32 {
		t.Errorf("bias %v NoDecay=%v", l.Bias.Value.Shape, l.Bias.NoDecay)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// ResNet-18 convolutions at 28 px input, batch 32 (the MedMNIST recipe).
var convBenchCases = []struct {
	name    string
	cfg     ConvConfig
	h, w, n int
}{
	{"64to64_28x28", ConvConfig{In: 64, Out: 64, Kernel: 3, Padding: 1}, 28, 28, 32},
	{"64to128_s2_28x28", ConvConfig{In: 64, Out: 128, Kernel: 3, Stride: 2, Padding: 1}, 28, 28, 32},
	{"128to128_14x14", ConvConfig{In: 128, Out: 128, Kernel: 3, Padding: 1}, 14, 14, 32},
	{"512to512_4x4", ConvConfig{In: 512, Out: 512, Kernel: 3, Padding: 1}, 4, 4, 32},
	{"64to128_1x1s2_28x28", ConvConfig{In: 64, Out: 128, Kernel: 1, Stride: 2}, 28, 28, 32},
}

func BenchmarkConv2dForward(b *testing.B) {
	for _, bc := range convBenchCases {
		b.Run(bc.name, func(b *testing.B) {
			rng := rand.New(rand.NewPCG(7, 7))
			l := NewConv2d(rng, bc.cfg)
			x := tensor.Randn(rng, 1, bc.n, bc.h, bc.w, bc.cfg.In)
			y := l.Forward(x)
			b.ReportAllocs()
			for b.Loop() {
				l.Forward(x)
			}
			b.ReportMetric(float64(2*y.Len()*bc.cfg.In*bc.cfg.Kernel*bc.cfg.Kernel)*float64(b.N)/1e9/b.Elapsed().Seconds(), "GFLOP/s")
		})
	}
}

func BenchmarkConv2dForwardBackward(b *testing.B) {
	for _, bc := range convBenchCases {
		b.Run(bc.name, func(b *testing.B) {
			rng := rand.New(rand.NewPCG(7, 7))
			l := NewConv2d(rng, bc.cfg)
			x := tensor.Randn(rng, 1, bc.n, bc.h, bc.w, bc.cfg.In)
			y := l.Forward(x)
			dy := tensor.Randn(rng, 1, y.Shape...)
			b.ReportAllocs()
			for b.Loop() {
				l.Forward(x)
				l.Backward(dy)
			}
			b.ReportMetric(float64(6*y.Len()*bc.cfg.In*bc.cfg.Kernel*bc.cfg.Kernel)*float64(b.N)/1e9/b.Elapsed().Seconds(), "GFLOP/s")
		})
	}
}

// BenchmarkConv2dChunk sweeps the lowered-chunk budget (convColFloats) on
// the smallest and largest channel counts of ResNet-18 at 28 px.
func BenchmarkConv2dChunk(b *testing.B) {
	for _, bc := range []int{0, 3} {
		for _, floats := range []int{1 << 16, 1 << 18, 1 << 20, 1 << 22} {
			c := convBenchCases[bc]
			b.Run(fmt.Sprintf("%s/%dKiB", c.name, floats*4/1024), func(b *testing.B) {
				old := convColFloats
				convColFloats = floats
				defer func() { convColFloats = old }()
				rng := rand.New(rand.NewPCG(7, 7))
				l := NewConv2d(rng, c.cfg)
				x := tensor.Randn(rng, 1, c.n, c.h, c.w, c.cfg.In)
				dy := tensor.Randn(rng, 1, l.Forward(x).Shape...)
				l.Backward(dy)
				for b.Loop() {
					l.Forward(x)
					l.Backward(dy)
				}
				b.ReportMetric(float64(6*dy.Len()*c.cfg.In*9)*float64(b.N)/1e9/b.Elapsed().Seconds(), "GFLOP/s")
			})
		}
	}
}

func BenchmarkConv2dPerSampleGradSq(b *testing.B) {
	for _, bc := range convBenchCases {
		b.Run(bc.name, func(b *testing.B) {
			rng := rand.New(rand.NewPCG(7, 7))
			l := NewConv2d(rng, bc.cfg)
			x := tensor.Randn(rng, 1, bc.n, bc.h, bc.w, bc.cfg.In)
			dy := tensor.Randn(rng, 1, l.Forward(x).Shape...)
			l.Backward(dy)
			sq := make([]float64, bc.n)
			b.ReportAllocs()
			for b.Loop() {
				l.AddPerSampleGradSq(sq)
			}
		})
	}
}

// Work split over threads must not change the results (beyond summation
// order): each layer runs with one thread and with several on inputs large
// enough to be cut into many pieces. Run with -race, it also checks that
// the pieces do not write over each other.
func TestSpatialLayersThreadInvariant(t *testing.T) {
	defer tensor.SetThreads(0)
	mk := func() []Module {
		rng := rand.New(rand.NewPCG(8, 8))
		gn := NewGroupNorm(4, 32)
		randomAffine(rng, gn.Weight, gn.Bias)
		return []Module{
			NewConv2d(rng, ConvConfig{In: 32, Out: 24, Kernel: 3, Stride: 2, Padding: 1, Bias: true}),
			NewConv2d(rng, ConvConfig{In: 32, Out: 16, Kernel: 3, Padding: 1, Groups: 2}),
			NewConv2d(rng, ConvConfig{In: 32, Out: 32, Kernel: 3, Padding: 1, Groups: 32, Bias: true}),
			NewConv2d(rng, ConvConfig{In: 32, Out: 8, Kernel: 1, Bias: true}),
			NewConvTranspose2d(rng, ConvTransposeConfig{ConvConfig{In: 32, Out: 8, Kernel: 3, Stride: 2, Padding: 1}, 1}),
			NewBatchNorm2d(32), gn,
			NewMaxPool2d(3, 2, 1), NewAvgPool2d(3, 2, 1), NewAdaptiveAvgPool2d(3, 3), NewGlobalAvgPool(),
			NewUpsample(2, "nearest"), NewUpsample(2, "bilinear"),
		}
	}
	rng := rand.New(rand.NewPCG(9, 9))
	x := tensor.Randn(rng, 1, 6, 17, 15, 32)
	run := func(threads int, smallChunks bool) [][]float32 {
		tensor.SetThreads(threads)
		if smallChunks { // many chunks, each spanning image borders
			oldFloats, oldRows := convColFloats, convMinRows
			convColFloats, convMinRows = 1<<12, 1
			defer func() { convColFloats, convMinRows = oldFloats, oldRows }()
		}
		var out [][]float32
		for _, m := range mk() {
			y := m.Forward(x)
			dy := tensor.Randn(rand.New(rand.NewPCG(10, 10)), 1, y.Shape...)
			dx := m.Backward(dy)
			out = append(out, append([]float32(nil), y.Values()...), append([]float32(nil), dx.Values()...))
			for _, p := range Params(m) {
				out = append(out, append([]float32(nil), p.Grad.Values()...))
			}
			if ps, ok := m.(PerSampler); ok {
				sq := make([]float64, x.Dim(0))
				ps.AddPerSampleGradSq(sq)
				for _, v := range sq {
					out = append(out, []float32{float32(v)})
				}
			}
		}
		return out
	}
	one := run(1, false)
	for _, small := range []bool{false, true} {
		many := run(5, small)
		for i := range one {
			for j, v := range one[i] {
				if d := math.Abs(float64(v - many[i][j])); d > 1e-4*(1+math.Abs(float64(v))) {
					t.Fatalf("small chunks %v: result %d, value %d: %g with one thread, %g with five", small, i, j, v, many[i][j])
				}
			}
		}
	}
}

// A convolution stage on a channels-last batch: 3x3 convolution, batch
// normalisation, max pooling, and the global average pooling of a
// classifier head.
func ExampleConv2d() {
	rng := rand.New(rand.NewPCG(1, 2))
	stage := NewSequential(
		NewConv2d(rng, ConvConfig{In: 3, Out: 16, Kernel: 3, Padding: 1}),
		NewBatchNorm2d(16),
		NewMaxPool2d(2, 2, 0),
		NewGlobalAvgPool(),
	)
	x := tensor.Randn(rng, 1, 8, 28, 28, 3) // [N, H, W, C]
	y := stage.Forward(x)
	dx := stage.Backward(tensor.Full(1, y.Shape...))
	fmt.Println(y.Shape, dx.Shape)
	fmt.Println(stage.Layers[0].(*Conv2d).Weight.Value.Shape) // PyTorch's OIHW
	// Output:
	// [8 16] [8 28 28 3]
	// [16 3 3 3]
}
