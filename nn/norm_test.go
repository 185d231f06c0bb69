package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/deepscope/deepscope/tensor"
)

// randomAffine gives a normalisation layer's weight and bias random values,
// so a gradient check sees a non-trivial scale and shift.
func randomAffine(rng *rand.Rand, w, b *Param) {
	for i := range w.Value.Data {
		w.Value.Data[i] = 0.5 + rng.Float32()
		b.Value.Data[i] = rng.Float32() - 0.5
	}
}

// naiveNorm normalises the values of x selected by group(n, pixel, c) (one
// group id per value) with their own mean and biased variance, then applies
// w[c], b[c].
func naiveNorm(x *tensor.Tensor, w, b []float32, eps float64, group func(n, c int) int, groups int) []float64 {
	c := x.Dim(-1)
	n := x.Dim(0)
	per := x.Len() / n
	sum := make([]float64, groups)
	cnt := make([]float64, groups)
	for i, v := range x.Data {
		g := group(i/per, i%c)
		sum[g] += float64(v)
		cnt[g]++
	}
	ss := make([]float64, groups)
	for i, v := range x.Data {
		g := group(i/per, i%c)
		d := float64(v) - sum[g]/cnt[g]
		ss[g] += d * d
	}
	y := make([]float64, x.Len())
	for i, v := range x.Data {
		g := group(i/per, i%c)
		y[i] = (float64(v)-sum[g]/cnt[g])/math.Sqrt(ss[g]/cnt[g]+eps)*float64(w[i%c]) + float64(b[i%c])
	}
	return y
}

var bnShapes = [][]int{{2, 3, 4, 5}, {4, 1, 1, 3}, {1, 5, 3, 2}, {3, 2, 2, 7}}

func TestBatchNorm2dTrainForward(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	for _, sh := range bnShapes {
		c := sh[3]
		l := NewBatchNorm2d(c)
		randomAffine(rng, l.Weight, l.Bias)
		x := tensor.Randn(rng, 2, sh...)
		for i := range x.Data {
			x.Data[i] += float32(i % c) // per-channel offsets
		}
		want := naiveNorm(x, l.Weight.Value.Data, l.Bias.Value.Data, 1e-5, func(_, ch int) int { return ch }, c)
		assertClose64(t, fmt.Sprint(sh), l.Forward(x).Values(), want, 1e-5)
	}
}

// The running statistics follow PyTorch: running = 0.9*running + 0.1*batch,
// with the unbiased variance, and num_batches_tracked counts the steps;
// evaluation normalises with them.
func TestBatchNorm2dRunningStats(t *testing.T) {
	// One channel, four values per step: 1, 2, 3, 6 (mean 3, unbiased var 14/3)
	// then 0, 0, 4, 4 (mean 2, unbiased var 16/3).
	l := NewBatchNorm2d(1)
	l.Forward(tensor.FromSlice([]float32{1, 2, 3, 6}, 1, 2, 2, 1))
	wantMean, wantVar := 0.1*3.0, 0.9*1+0.1*14.0/3
	l.Forward(tensor.FromSlice([]float32{0, 0, 4, 4}, 2, 1, 2, 1))
	wantMean, wantVar = 0.9*wantMean+0.1*2, 0.9*wantVar+0.1*16.0/3
	if got := float64(l.RunningMean.Value.Data[0]); math.Abs(got-wantMean) > 1e-6 {
		t.Errorf("running_mean %g, want %g", got, wantMean)
	}
	if got := float64(l.RunningVar.Value.Data[0]); math.Abs(got-wantVar) > 1e-6 {
		t.Errorf("running_var %g, want %g", got, wantVar)
	}
	if got := l.NumBatchesTracked.Value.Data[0]; got != 2 || !l.NumBatchesTracked.Int {
		t.Errorf("num_batches_tracked %g (Int=%v), want 2", got, l.NumBatchesTracked.Int)
	}
	SetTraining(l, false)
	l.Weight.Value.Data[0], l.Bias.Value.Data[0] = 2, 0.5
	y := l.Forward(tensor.FromSlice([]float32{1, 5}, 1, 1, 2, 1))
	for i, x := range []float64{1, 5} {
		want := (x-wantMean)/math.Sqrt(wantVar+1e-5)*2 + 0.5
		if math.Abs(float64(y.Data[i])-want) > 1e-5 {
			t.Errorf("eval y[%d] = %g, want %g", i, y.Data[i], want)
		}
	}
	if l.NumBatchesTracked.Value.Data[0] != 2 || math.Abs(float64(l.RunningMean.Value.Data[0])-wantMean) > 1e-6 {
		t.Error("evaluation changed the running statistics")
	}
}

func TestBatchNorm2dParamsAndNames(t *testing.T) {
	l := NewBatchNorm2d(3)
	var names []string
	Walk(l, func(name string, p *Param) { names = append(names, name) })
	want := []string{"weight", "bias", "running_mean", "running_var", "num_batches_tracked"}
	if fmt.Sprint(names) != fmt.Sprint(want) {
		t.Fatalf("names %v, want %v", names, want)
	}
	if !l.Weight.NoDecay || !l.Bias.NoDecay || l.RunningMean.Grad != nil || l.NumBatchesTracked.Value.Dims() != 0 {
		t.Error("wrong flags, buffers or num_batches_tracked shape")
	}
	if len(Params(l)) != 2 {
		t.Errorf("%d trained params, want 2", len(Params(l)))
	}
}

func TestBatchNorm2dGrad(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 2))
	for _, sh := range bnShapes {
		for _, train := range []bool{true, false} {
			l := NewBatchNorm2d(sh[3])
			randomAffine(rng, l.Weight, l.Bias)
			for i := range l.RunningMean.Value.Data {
				l.RunningMean.Value.Data[i] = rng.Float32() - 0.5
				l.RunningVar.Value.Data[i] = 0.5 + rng.Float32()
			}
			SetTraining(l, train)
			x := tensor.Randn(rng, 1, sh...)
			checkGrads(t, gradCase{name: fmt.Sprintf("%v/train=%v", sh, train), m: l, x: x, eps: 5e-3})
		}
	}
}

func TestBatchNorm2dRejectsSingleValueInTraining(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("no panic for one value per channel in training")
		}
	}()
	NewBatchNorm2d(2).Forward(tensor.New(1, 1, 1, 2))
}

var gnCases = []struct {
	groups int
	shape  []int
}{
	{1, []int{2, 3, 4, 4}},
	{2, []int{2, 3, 4, 4}},
	{4, []int{3, 2, 3, 4}},
	{3, []int{1, 5, 2, 6}},
	{2, []int{2, 1, 1, 4}},
}

func TestGroupNormForward(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	for _, gc := range gnCases {
		c := gc.shape[3]
		l := NewGroupNorm(gc.groups, c)
		randomAffine(rng, l.Weight, l.Bias)
		x := tensor.Randn(rng, 2, gc.shape...)
		for i := range x.Data {
			x.Data[i] += float32(i%c) - 1
		}
		cg := c / gc.groups
		want := naiveNorm(x, l.Weight.Value.Data, l.Bias.Value.Data, 1e-5, func(n, ch int) int { return n*gc.groups + ch/cg }, gc.shape[0]*gc.groups)
		assertClose64(t, fmt.Sprint(gc), l.Forward(x).Values(), want, 1e-5)
	}
}

func TestGroupNormGrad(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	for _, gc := range gnCases {
		l := NewGroupNorm(gc.groups, gc.shape[3])
		randomAffine(rng, l.Weight, l.Bias)
		checkGrads(t, gradCase{name: fmt.Sprint(gc), m: l, x: tensor.Randn(rng, 1, gc.shape...), eps: 5e-3})
	}
}

func TestGroupNormPerSampleGradSq(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	for _, gc := range gnCases {
		l := NewGroupNorm(gc.groups, gc.shape[3])
		randomAffine(rng, l.Weight, l.Bias)
		x := tensor.Randn(rng, 1, gc.shape...)
		dy := tensor.Randn(rng, 1, gc.shape...)
		l.Forward(x)
		l.Backward(dy)
		got := make([]float64, gc.shape[0])
		l.AddPerSampleGradSq(got)
		want := batchOfOneGradSq(l, x, dy)
		for i := range want {
			if math.Abs(got[i]-want[i]) > 1e-4*want[i]+1e-6 {
				t.Errorf("%v: sample %d: %g, batch-of-one %g", gc, i, got[i], want[i])
			}
		}
	}
}

func BenchmarkBatchNorm2dForwardBackward(b *testing.B) {
	// ResNet-18 layer1 at 28 px, batch 32.
	rng := rand.New(rand.NewPCG(6, 6))
	l := NewBatchNorm2d(64)
	x := tensor.Randn(rng, 1, 32, 28, 28, 64)
	dy := tensor.Randn(rng, 1, x.Shape...)
	l.Forward(x)
	l.Backward(dy)
	b.SetBytes(int64(4 * 5 * x.Len())) // x read three times, dy twice
	b.ReportAllocs()
	for b.Loop() {
		l.Forward(x)
		l.Backward(dy)
	}
}

// With a mean far larger than the spread, a float32 backward that expands
// b*(x-mean) into b*x - b*mean loses its digits; the layer must stay close
// to the float64 gradient.
func TestBatchNorm2dBackwardLargeMean(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	const rows, c = 64, 3
	x := tensor.New(4, 4, 4, c)
	for i := range x.Data {
		x.Data[i] = 100 + 0.01*float32(rng.NormFloat64())
	}
	dy := tensor.Randn(rng, 1, x.Shape...)
	l := NewBatchNorm2d(c)
	randomAffine(rng, l.Weight, l.Bias)
	l.Forward(x)
	got := l.Backward(dy).Values()
	var worst, scale float64
	for j := 0; j < c; j++ {
		var mean, v, sdy, sdyx float64
		for r := 0; r < rows; r++ {
			mean += float64(x.Data[r*c+j]) / rows
		}
		for r := 0; r < rows; r++ {
			d := float64(x.Data[r*c+j]) - mean
			v += d * d / rows
			sdy += float64(dy.Data[r*c+j])
			sdyx += float64(dy.Data[r*c+j]) * d
		}
		is := 1 / math.Sqrt(v+1e-5)
		w := float64(l.Weight.Value.Data[j])
		for r := 0; r < rows; r++ {
			d := float64(x.Data[r*c+j]) - mean
			want := w * is * (float64(dy.Data[r*c+j]) - sdy/rows - d*is*is*sdyx/rows)
			worst = math.Max(worst, math.Abs(float64(got[r*c+j])-want))
			scale = math.Max(scale, math.Abs(want))
		}
	}
	// Measured: 1.9e-6 of scale; the expanded form gives 8.5e-6.
	if worst > 4e-6*scale {
		t.Errorf("dx off by %.3g at scale %.3g", worst, scale)
	}
}

// TestBatchNormFusedReLU checks that BatchNorm2d with ReLU set gives the
// output and gradients of a BatchNorm2d followed by a ReLU, in both modes.
func TestBatchNormFusedReLU(t *testing.T) {
	for _, training := range []bool{true, false} {
		rng := rand.New(rand.NewPCG(4, 4))
		x := tensor.Randn(rng, 1, 3, 5, 4, 6)
		dy := tensor.Randn(rng, 1, 3, 5, 4, 6)
		plain, fused := NewBatchNorm2d(6), NewBatchNorm2d(6)
		fused.ReLU = true
		for _, l := range []*BatchNorm2d{plain, fused} {
			copy(l.Weight.Value.Data, []float32{1, 0.5, 2, -1, 1.5, 0.7})
			copy(l.Bias.Value.Data, []float32{0.1, -0.2, 0, 0.3, -0.1, 0.2})
			l.SetTraining(training)
		}
		relu := &ReLU{}
		want := relu.Forward(plain.Forward(x))
		got := fused.Forward(x)
		wantDx := plain.Backward(relu.Backward(dy))
		gotDx := fused.Backward(dy)
		for _, c := range []struct {
			name string
			a, b []float32
		}{
			{"output", got.Values(), want.Values()},
			{"input gradient", gotDx.Values(), wantDx.Values()},
			{"weight gradient", fused.Weight.Grad.Values(), plain.Weight.Grad.Values()},
			{"bias gradient", fused.Bias.Grad.Values(), plain.Bias.Grad.Values()},
		} {
			for i := range c.a {
				if d := c.a[i] - c.b[i]; d > 1e-5 || d < -1e-5 {
					t.Errorf("training=%v: %s[%d] = %g, unfused %g", training, c.name, i, c.a[i], c.b[i])
					break
				}
			}
		}
	}
}

// TestBatchNormAddReLU checks ForwardAddReLU and BackwardAddReLU against a
// BatchNorm2d, an addition and a ReLU done separately.
func TestBatchNormAddReLU(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	x := tensor.Randn(rng, 1, 2, 3, 3, 4)
	res := tensor.Randn(rng, 1, 2, 3, 3, 4)
	dy := tensor.Randn(rng, 1, 2, 3, 3, 4)
	plain, fused := NewBatchNorm2d(4), NewBatchNorm2d(4)
	a := plain.Forward(x)
	sum := tensor.New(a.Shape...)
	for i, v := range a.Data {
		sum.Data[i] = v + res.Data[i]
	}
	relu := &ReLU{}
	want := relu.Forward(sum)
	got := fused.ForwardAddReLU(x, res)
	dsum := relu.Backward(dy)
	wantDx := plain.Backward(dsum)
	gotDx, gotDres := fused.BackwardAddReLU(dy)
	for _, c := range []struct {
		name string
		a, b []float32
	}{
		{"output", got.Values(), want.Values()},
		{"input gradient", gotDx.Values(), wantDx.Values()},
		{"residual gradient", gotDres.Values(), dsum.Values()},
		{"weight gradient", fused.Weight.Grad.Values(), plain.Weight.Grad.Values()},
	} {
		for i := range c.a {
			if d := c.a[i] - c.b[i]; d > 1e-5 || d < -1e-5 {
				t.Errorf("%s[%d] = %g, unfused %g", c.name, i, c.a[i], c.b[i])
				break
			}
		}
	}
}

// TestGroupNormFusedReLU checks GroupNorm's fused ReLU and ForwardAddReLU
// against a GroupNorm, an addition and a ReLU done separately, including
// the per-sample gradient norms, which must see the masked gradient.
func TestGroupNormFusedReLU(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 8))
	for _, add := range []bool{false, true} {
		x := tensor.Randn(rng, 1, 3, 3, 3, 4)
		res := tensor.Randn(rng, 1, 3, 3, 3, 4)
		dy := tensor.Randn(rng, 1, 3, 3, 3, 4)
		plain, fused := NewGroupNorm(2, 4), NewGroupNorm(2, 4)
		randomAffine(rng, plain.Weight, plain.Bias)
		copy(fused.Weight.Value.Data, plain.Weight.Value.Data)
		copy(fused.Bias.Value.Data, plain.Bias.Value.Data)
		a := plain.Forward(x)
		sum := tensor.New(a.Shape...)
		for i, v := range a.Data {
			sum.Data[i] = v
			if add {
				sum.Data[i] += res.Data[i]
			}
		}
		relu := &ReLU{}
		want := relu.Forward(sum)
		dsum := relu.Backward(dy)
		wantDx := plain.Backward(dsum)
		var got, gotDx, gotDres *tensor.Tensor
		if add {
			got = fused.ForwardAddReLU(x, res)
			gotDx, gotDres = fused.BackwardAddReLU(dy)
		} else {
			fused.ReLU = true
			got = fused.Forward(x)
			gotDx, gotDres = fused.Backward(dy), dsum
		}
		wantSq, gotSq := make([]float64, 3), make([]float64, 3)
		plain.AddPerSampleGradSq(wantSq)
		fused.AddPerSampleGradSq(gotSq)
		for i := range wantSq {
			if math.Abs(gotSq[i]-wantSq[i]) > 1e-5*(1+wantSq[i]) {
				t.Errorf("add=%v: per-sample norm² %d = %g, unfused %g", add, i, gotSq[i], wantSq[i])
			}
		}
		for _, c := range []struct {
			name string
			a, b []float32
		}{
			{"output", got.Values(), want.Values()},
			{"input gradient", gotDx.Values(), wantDx.Values()},
			{"residual gradient", gotDres.Values(), dsum.Values()},
			{"weight gradient", fused.Weight.Grad.Values(), plain.Weight.Grad.Values()},
			{"bias gradient", fused.Bias.Grad.Values(), plain.Bias.Grad.Values()},
		} {
			for i := range c.a {
				if d := c.a[i] - c.b[i]; d > 1e-5 || d < -1e-5 {
					t.Errorf("add=%v: %s[%d] = %g, unfused %g", add, c.name, i, c.a[i], c.b[i])
					break
				}
			}
		}
	}
}
