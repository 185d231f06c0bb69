package segment

import (
	"context"
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/deepscope/deepscope/tensor"
	"github.com/deepscope/deepscope/transform"
)

func TestHVTargets(t *testing.T) {
	// x 2..7 (centroid 4.5), y 3..5 (centroid 4).
	l := rects(10, 8, [4]int{2, 3, 8, 6})
	hv := hvTargets(l)
	at := func(x, y int) [2]int8 { return [2]int8{hv[2*(y*10+x)], hv[2*(y*10+x)+1]} }
	for _, c := range []struct {
		x, y int
		want [2]int8
	}{
		{2, 3, [2]int8{-127, -127}}, {7, 5, [2]int8{127, 127}}, {3, 4, [2]int8{-76, 0}}, // (3-4.5)/2.5 = -0.6
		{5, 4, [2]int8{25, 0}}, {0, 0, [2]int8{0, 0}}, {8, 4, [2]int8{0, 0}},
	} {
		if got := at(c.x, c.y); got != c.want {
			t.Errorf("maps at (%d, %d): %v, want %v", c.x, c.y, got, c.want)
		}
	}
}

// turnLabels returns l (square) as a crop turned by element d of the
// square's symmetry group shows it (see turn).
func turnLabels(l *Labels, d int) *Labels {
	out := NewLabels(l.W, l.H)
	for i := range l.H {
		for j := range l.W {
			si, sj := turn(d, i, j, l.W)
			out.Pix[i*l.W+j] = l.Pix[si*l.W+sj]
		}
	}
	return out
}

// TestHVTurnsWithTheCrop checks that the maps hvTurn makes of a turned
// crop's source are the maps of the turned labels, for every turn, and
// that fillCrop's maps are those of the turn it drew.
func TestHVTurnsWithTheCrop(t *testing.T) {
	const s = 16
	l := rects(s, s, [4]int{1, 2, 7, 5}, [4]int{8, 1, 11, 13}, [4]int{3, 9, 7, 15})
	src := hvTargets(l)
	for d := range 8 {
		want := hvTargets(turnLabels(l, d))
		from, sign := hvTurn(d)
		for i := range s {
			for j := range s {
				si, sj := turn(d, i, j, s)
				for k := range 2 {
					got := sign[k] * float32(src[2*(si*s+sj)+from[k]])
					if w := float32(want[2*(i*s+j)+k]); math.Abs(float64(got-w)) > 1 {
						t.Fatalf("turn %d, pixel (%d, %d), map %d: %g, want %g", d, i, j, k, got, w)
					}
				}
			}
		}
	}

	im := trainImage{w: s, h: s, c: 1, q: make([]uint8, s*s), cls: Targets(l), hv: src}
	x, cls, ht := make([]float32, s*s), make([]int, s*s), make([]float32, 2*s*s)
	for seed := range uint64(16) {
		fillCrop(&im, s, 0, rand.New(rand.NewPCG(seed, 1)), x, cls, nil, ht, nil, nil, nil)
		matched := false
		for d := range 8 {
			tl := turnLabels(l, d)
			tc, th := Targets(tl), hvTargets(tl)
			same := true
			for p := range cls {
				same = same && cls[p] == int(tc[p]) &&
					math.Abs(float64(ht[2*p]-float32(th[2*p])/127)) < 1.5/127 && math.Abs(float64(ht[2*p+1]-float32(th[2*p+1])/127)) < 1.5/127
			}
			matched = matched || same
		}
		if !matched {
			t.Fatalf("seed %d: the crop's classes and maps are not those of any turn of the labels", seed)
		}
	}
}

// TestHVActivateUndoesTurns gives hvActivate, for each quarter turn k,
// the maps of the labels turned by transform.Rot90(k) as raw outputs: the
// maps it returns, turned back, must be the unturned labels' maps.
func TestHVActivateUndoesTurns(t *testing.T) {
	const w, h = 11, 7
	l := rects(w, h, [4]int{1, 1, 5, 4}, [4]int{6, 2, 10, 7})
	want := hvTargets(l)
	img := tensor.New(h, w, 1)
	for i, v := range l.Pix {
		img.Data[i] = float32(v)
	}
	for k := range 4 {
		ti := transform.Rot90(img, k)
		tl := NewLabels(ti.Dim(1), ti.Dim(0))
		for i, v := range ti.Contiguous().Values() {
			tl.Pix[i] = int32(v)
		}
		th := hvTargets(tl)
		raw := tensor.New(ti.Dim(0), ti.Dim(1), hvOutputs)
		for p := range len(tl.Pix) {
			raw.Data[p*hvOutputs+Interior] = 2 // any logits
			raw.Data[p*hvOutputs+hvH] = float32(th[2*p]) / 127
			raw.Data[p*hvOutputs+hvV] = float32(th[2*p+1]) / 127
		}
		back := transform.Rot90(hvActivate(raw, k), -k).Contiguous().Values()
		for p := range len(l.Pix) {
			for c := range 2 {
				got, w := 2*back[p*hvOutputs+hvH+c]-1, float32(want[2*p+c])/127
				if math.Abs(float64(got-w)) > 1.5/127 {
					t.Fatalf("turn %d, pixel %d, map %d: %g, want %g", k, p, c, got, w)
				}
			}
			if sum := back[p*hvOutputs] + back[p*hvOutputs+1] + back[p*hvOutputs+2]; math.Abs(float64(sum-1)) > 1e-5 {
				t.Fatalf("class probabilities sum to %g", sum)
			}
		}
	}
}

// TestHVLossGradient compares hvLoss's Backward with central differences.
func TestHVLossGradient(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 2))
	const n, s = 2, 5
	out := tensor.Randn(rng, 1, n, s, s, hvOutputs)
	cls := make([]int, n*s*s)
	hv := make([]float32, 2*n*s*s)
	rw := make([]float32, n*s*s)
	for p := range cls {
		cls[p] = rng.IntN(NumClasses)
		hv[2*p], hv[2*p+1] = 2*rng.Float32()-1, 2*rng.Float32()-1
		rw[p] = 0.5 + rng.Float32()
	}
	var l hvLoss
	l.ce.RowWeight = rw
	l.Forward(out, cls, hv)
	g := l.Backward().Clone().Values()
	v := out.Values()
	const eps = 1e-2
	for i := range v {
		x := v[i]
		v[i] = x + eps
		up := float64(l.Forward(out, cls, hv))
		v[i] = x - eps
		down := float64(l.Forward(out, cls, hv))
		v[i] = x
		num := (up - down) / (2 * eps)
		if math.Abs(num-float64(g[i])) > 1e-3+1e-2*math.Abs(num) {
			t.Fatalf("output %d: gradient %g, central difference %g", i, g[i], num)
		}
	}
}

// TestHVSplitsTouchingObjects gives Instances two touching rectangles
// whose class probabilities show one interior without a boundary between
// them: the three-class head must merge them, and the hv head, whose maps
// fall from 1 to -1 where they touch, must part them.
func TestHVSplitsTouchingObjects(t *testing.T) {
	const w, h = 24, 12
	truth := rects(w, h, [4]int{2, 2, 11, 10}, [4]int{11, 2, 21, 10})
	hv := hvTargets(truth)
	cls := make([]float32, w*h*NumClasses)
	probs := make([]float32, w*h*hvOutputs)
	for p, v := range truth.Pix {
		c := []float32{1, 0, 0}
		if v != 0 {
			c = []float32{0.05, 0.9, 0.05}
		}
		copy(cls[p*NumClasses:], c)
		copy(probs[p*hvOutputs:], c)
		probs[p*hvOutputs+hvH] = (float32(hv[2*p])/127 + 1) / 2
		probs[p*hvOutputs+hvV] = (float32(hv[2*p+1])/127 + 1) / 2
	}
	if got := Instances(cls, w, h, InstanceConfig{}); got.Count() != 1 {
		t.Errorf("three-class head: %d objects, want the two merged into 1", got.Count())
	}
	got := Instances(probs, w, h, InstanceConfig{HV: true})
	if s := Score(truth, got); s.Pred != 2 || s.AP50 != 1 {
		t.Errorf("hv head: %d objects, AP50 %.2f; want the 2 true ones", s.Pred, s.AP50)
	}
}

// TestTrainClasses trains the three-class head end to end (the default
// head, hv, is TestTrainPredictEndToEnd's).
func TestTrainClasses(t *testing.T) {
	tensor.SetThreads(1)
	defer tensor.SetThreads(0)
	data := writeDataset(t, t.TempDir(), 16, 64, 7)
	out := filepath.Join(t.TempDir(), "run")
	cfg := tinyConfig(data)
	cfg.Head = HeadClasses
	sum, err := Train(context.Background(), cfg, Options{Out: out})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("trained %d epochs: hold-out score %.3f at epoch %d; tuned %+v", sum.Epochs, sum.Best, sum.BestEpoch, sum.Tuning)
	m, _, err := Load(out)
	if err != nil {
		t.Fatal(err)
	}
	if m.Instance.HV || m.Instance.Outputs() != NumClasses {
		t.Fatalf("loaded thresholds %+v: want the three-class head's", m.Instance)
	}
	img, truth := touchingNuclei()
	checkSegments(t, "three-class head", truth, m.Segment(img))
}
