package explain

import (
	"bytes"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/deepscope/deepscope/nn"
	"github.com/deepscope/deepscope/tensor"
)

// texturedImage returns patchImage's picture on a strongly textured
// background, so a randomised model has structure to respond to.
func texturedImage(s, y0, x0, p, c int, seed uint64) *tensor.Tensor {
	x := patchImage(s, y0, x0, p, c, seed)
	rng := rand.New(rand.NewPCG(seed, 77))
	for i := range x.Data {
		if y, xx := i/3/s, i/3%s; y >= y0 && y < y0+p && xx >= x0 && xx < x0+p {
			continue
		}
		x.Data[i] = 0.5 + 0.2*float32(rng.NormFloat64()) - 0.1
	}
	return x
}

// TestSanityRandomisation runs the cascade on the colour network: maps of
// the fully randomised network must correlate weakly with the trained
// one's for every method, while the random map, which ignores the model,
// correlates perfectly. The trained weights must be back afterwards.
func TestSanityRandomisation(t *testing.T) {
	const s = 16
	trained := colourNet()
	before := append([]float32(nil), trained.Conv.Weight.Value.Data...)
	fresh := newCamNet(rand.New(rand.NewPCG(9, 9)), 3, 3, 3, 2, 2, &nn.ReLU{})
	var xs []*tensor.Tensor
	var classes []int
	for i := range 4 {
		xs = append(xs, texturedImage(s, 2+2*i, 8-2*i, 5, 0, uint64(i)))
		classes = append(classes, 0)
	}
	var methods []Method
	for _, n := range append(Standard(), "random") {
		m, _ := New(n, Options{Samples: 64, Steps: 16, Segments: 16})
		methods = append(methods, m)
	}
	stages, rows, err := Sanity{Trained: trained, Fresh: fresh}.Run(methods, xs, classes, nil)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(stages, ",") != "fc,conv" {
		t.Fatalf("stages %v, want fc, conv", stages)
	}
	var b bytes.Buffer
	WriteSanityTable(&b, stages, rows)
	t.Logf("\n%s", b.String())
	for _, r := range rows {
		last := r.Rho[len(r.Rho)-1]
		switch {
		case r.Method == "random" && math.Abs(last-1) > 1e-9:
			t.Errorf("random: correlation %.3f, want 1 (it ignores the model)", last)
		case r.Method != "random" && math.Abs(last) > 0.5:
			t.Errorf("%s: correlation %.3f after randomising everything, want |rho| <= 0.5", r.Method, last)
		}
	}
	for i, v := range trained.Conv.Weight.Value.Data {
		if v != before[i] {
			t.Fatal("trained weights not restored")
		}
	}
}

// TestSpearman checks the rank correlation on known cases.
func TestSpearman(t *testing.T) {
	cases := []struct {
		a, b []float64
		want float64
	}{
		{[]float64{1, 2, 3, 4}, []float64{10, 20, 30, 40}, 1},
		{[]float64{1, 2, 3, 4}, []float64{4, 3, 2, 1}, -1},
		{[]float64{1, 2, 3, 4}, []float64{1, 8, 27, 64}, 1},
		{[]float64{1, 1, 1}, []float64{1, 2, 3}, 0},
		{[]float64{1, 2, 2, 3}, []float64{1, 2, 3, 4}, 0.9486832980505138},
	}
	for _, c := range cases {
		if got := Spearman(c.a, c.b); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("Spearman(%v, %v) = %g, want %g", c.a, c.b, got, c.want)
		}
	}
}
