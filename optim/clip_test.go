package optim

import (
	"math"
	"testing"

	"github.com/deepscope/deepscope/nn"
	"github.com/deepscope/deepscope/tensor"
)

func TestClipGradNorm(t *testing.T) {
	inf, nan := float32(math.Inf(1)), float32(math.NaN())
	tests := []struct {
		name      string
		a, b      []float32 // gradients of two parameters
		max       float64
		total     float64
		wantA     []float32
		wantB     []float32
		unchanged bool
	}{
		// ||(3, 4, 12)|| = 13; 6.5/(13+1e-6) scales by just under a half.
		{"clipped", []float32{3, 4}, []float32{12}, 6.5, 13, []float32{1.5, 2}, []float32{6}, false},
		{"under the limit", []float32{3, 4}, []float32{12}, 20, 13, nil, nil, true},
		{"at the limit", []float32{3, 4}, []float32{12}, 13, 13, nil, nil, false},
		{"zero max", []float32{3, 4}, []float32{12}, 0, 13, []float32{0, 0}, []float32{0}, false},
		{"zero grads", []float32{0, 0}, []float32{0}, 1, 0, nil, nil, true},
		{"infinite", []float32{inf, 1}, []float32{1}, 1, math.Inf(1), nil, nil, true},
		{"NaN", []float32{nan, 1}, []float32{1}, 1, math.NaN(), nil, nil, true},
	}
	for _, c := range tests {
		pa := nn.NewParam("a", tensor.New(len(c.a)))
		pb := nn.NewParam("b", tensor.New(len(c.b)))
		copy(pa.Grad.Data, c.a)
		copy(pb.Grad.Data, c.b)
		buf := nn.NewBuffer("mean", tensor.New(1)) // no gradient: skipped
		total := ClipGradNorm([]*nn.Param{pa, buf, pb}, c.max)
		if !(total == c.total || math.Abs(total-c.total) < 1e-9 || (math.IsNaN(total) && math.IsNaN(c.total))) {
			t.Errorf("%s: total = %v, want %v", c.name, total, c.total)
		}
		wantA, wantB := c.wantA, c.wantB
		if c.unchanged {
			wantA, wantB = c.a, c.b
		}
		if wantA == nil { // at the limit: scaled by 13/(13+1e-6), a hair below 1
			for i, g := range append(pa.Grad.Data, pb.Grad.Data...) {
				orig := append(c.a, c.b...)[i]
				if g > orig || g < orig*(1-1e-6) {
					t.Errorf("%s: gradient %v from %v", c.name, g, orig)
				}
			}
			continue
		}
		for i := range wantA {
			if !closeOrNaN(pa.Grad.Data[i], wantA[i]) {
				t.Errorf("%s: a = %v, want %v", c.name, pa.Grad.Data, wantA)
			}
		}
		for i := range wantB {
			if !closeOrNaN(pb.Grad.Data[i], wantB[i]) {
				t.Errorf("%s: b = %v, want %v", c.name, pb.Grad.Data, wantB)
			}
		}
	}
}

func closeOrNaN(a, b float32) bool {
	if a == b {
		return true
	}
	if a != a || b != b {
		return a != a && b != b
	}
	return math.Abs(float64(a-b)) <= 1e-6*math.Max(1, math.Abs(float64(b)))
}

func TestClipGradNormPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("ClipGradNorm with a negative max norm did not panic")
		}
	}()
	ClipGradNorm(nil, -1)
}

// TestClipGradNormThreads checks that a norm spread over threads is the same
// to the last bit as one computed on a single thread, and right.
func TestClipGradNormThreads(t *testing.T) {
	defer tensor.SetThreads(tensor.Threads())
	newParams := func() []*nn.Param {
		var ps []*nn.Param
		for _, n := range []int{3*chunkSize + 17, 5, chunkSize} {
			p := nn.NewParam("p", tensor.New(n))
			for i := range p.Grad.Data {
				p.Grad.Data[i] = float32(i%7) - 3
			}
			ps = append(ps, p)
		}
		return ps
	}
	var totals []float64
	var grads [][]float32
	for _, threads := range []int{1, 2, 3} {
		tensor.SetThreads(threads)
		ps := newParams()
		totals = append(totals, ClipGradNorm(ps, 1))
		grads = append(grads, append([]float32(nil), ps[0].Grad.Data...))
	}
	var want float64
	for _, p := range newParams() {
		for _, g := range p.Grad.Data {
			want += float64(g) * float64(g)
		}
	}
	want = math.Sqrt(want)
	for i := range totals {
		if totals[i] != totals[0] || !equal(grads[i], grads[0]) {
			t.Errorf("threads %d: total %v, threads 1: %v (or gradients differ)", i+1, totals[i], totals[0])
		}
	}
	if math.Abs(totals[0]-want) > 1e-9*want {
		t.Errorf("total = %v, want %v", totals[0], want)
	}
}
