package explain

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/deepscope/deepscope/nn"
	"github.com/deepscope/deepscope/tensor"
)

// TestIntegratedGradientsCompleteness checks that the attributions add up
// to logit(x) - logit(reference) within 1% at the default step count, on a
// random smooth network (3x3 convolution, GELU, pooling, linear), for each
// baseline.
func TestIntegratedGradientsCompleteness(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	net := newCamNet(rng, 3, 8, 4, 3, 1, &nn.GELU{})
	for _, p := range nn.Params(net) { // larger weights: a curved function of the input
		tensor.Scale(3, p.Value.Data)
	}
	x := tensor.Uniform(rng, -2, 2, 1, 12, 12, 3)
	black := []float32{-1.5, -1.2, -1.8}
	tested := 0
	for _, b := range []Baseline{BaselineMean, BaselineBlack, BaselineBlur} {
		for class := range 4 {
			ig := IntegratedGradients{Reference: Reference{Baseline: b, Black: black}}
			a, err := ig.Attribute(net, x, class)
			if err != nil {
				t.Fatal(err)
			}
			if d := a.Logit - a.Reference; math.Abs(d) < 0.1 {
				continue // a relative gap of a tiny difference says little
			}
			tested++
			if g := a.Gap(); g > 0.01 {
				t.Errorf("%s class %d: attributions sum to %.5g, logit difference %.5g: gap %.2g%% > 1%%",
					b, class, a.Sum, a.Logit-a.Reference, 100*g)
			}
			heat, err := ig.Explain(net, x, class)
			if err != nil {
				t.Fatal(err)
			}
			var s float64
			for _, v := range heat.Data {
				s += float64(v)
			}
			if math.Abs(s-a.Sum) > 1e-3*math.Max(1, math.Abs(a.Sum)) {
				t.Errorf("%s class %d: map sums to %g, attributions to %g", b, class, s, a.Sum)
			}
		}
	}
	if tested < 8 {
		t.Errorf("only %d of 12 cases had a logit difference large enough to test", tested)
	}
}

// TestFindsPlantedPatch checks that every method puts most of its positive
// mass on the only evidence for the class: a red square planted at a place
// that varies from case to case in an otherwise grey, slightly noisy image.
func TestFindsPlantedPatch(t *testing.T) {
	const s, p = 24, 6
	net := colourNet()
	places := [][2]int{{2, 14}, {12, 4}}
	methods := []Method{
		CAM{}, CAM{PlusPlus: true}, Saliency{}, SmoothGrad{Samples: 16},
		IntegratedGradients{Steps: 32},
		Occlusion{Patch: 4, Stride: 2},
		LIME{Segments: 36, Samples: 256},
		KernelSHAP{Segments: 36, Samples: 256},
	}
	for _, m := range methods {
		for i, pl := range places {
			x := patchImage(s, pl[0], pl[1], p, 0, uint64(i))
			heat, err := m.Explain(net, x, 0)
			if err != nil {
				t.Fatalf("%s: %v", m.Name(), err)
			}
			if heat.Dim(0) != s || heat.Dim(1) != s {
				t.Fatalf("%s: map shape %v", m.Name(), heat.Shape)
			}
			// The patch and a margin of two pixels, where upsampled or
			// window-shaped maps spill over.
			y0, x0 := max(pl[0]-2, 0), max(pl[1]-2, 0)
			want := 0.8
			if m.Name() == "smoothgrad" {
				want = 0.6 // noise wakes some features outside the patch
			}
			if got := massIn(heat, y0, x0, p+4); got < want {
				t.Errorf("%s at %v: %.2f of the positive mass near the patch, want >= %.1f", m.Name(), pl, got, want)
			}
			j := argmax(heat.Data)
			if y, xx := j/s, j%s; y < y0 || y >= y0+p+4 || xx < x0 || xx >= x0+p+4 {
				t.Errorf("%s at %v: map peaks at (%d, %d), away from the patch", m.Name(), pl, y, xx)
			}
		}
	}
}

// TestShapleyValuesExact checks Kernel SHAP's regression on a game whose
// Shapley values are known: f(S) = sum of a_j over S, plus b when players 0
// and 1 are both in S, so phi_j = a_j, except phi_0 and phi_1 which get
// b/2 each. With every coalition enumerated the values are exact; with
// sampled coalitions they are close.
func TestShapleyValuesExact(t *testing.T) {
	a := []float64{0.5, -0.2, 0.3, 0.1, 0.0, 0.7}
	const b = 0.4
	d := len(a)
	game := func(on []bool) float64 {
		var v float64
		for j, x := range on {
			if x {
				v += a[j]
			}
		}
		if on[0] && on[1] {
			v += b
		}
		return v
	}
	want := append([]float64(nil), a...)
	want[0] += b / 2
	want[1] += b / 2
	full := make([]bool, d)
	for i := range full {
		full[i] = true
	}
	for _, c := range []struct {
		name string
		n    int
		tol  float64
	}{{"enumerated", 1 << d, 1e-9}, {"sampled", 40, 0.05}} {
		on, w := coalitions(d, c.n, rand.New(rand.NewPCG(1, 2)))
		ys := make([]float64, len(w))
		for i := range ys {
			ys[i] = game(on[i*d : (i+1)*d])
		}
		phi, err := shapleyValues(d, on, w, ys, game(full), 0)
		if err != nil {
			t.Fatal(err)
		}
		var sum float64
		for j := range phi {
			sum += phi[j]
			if math.Abs(phi[j]-want[j]) > c.tol {
				t.Errorf("%s: phi = %v, want %v", c.name, phi, want)
				break
			}
		}
		if math.Abs(sum-game(full)) > 1e-9 {
			t.Errorf("%s: values add up to %g, want f(all) - f(none) = %g", c.name, sum, game(full))
		}
	}
}

// TestSHAPEfficiency checks that Kernel SHAP's map adds up to f(x) -
// f(reference) on a real image and model.
func TestSHAPEfficiency(t *testing.T) {
	net := colourNet()
	x := patchImage(16, 3, 5, 5, 0, 3)
	for _, out := range []Output{Probability, Logit} {
		heat, err := KernelSHAP{Segments: 20, Samples: 128, Output: out}.Explain(net, x, 0)
		if err != nil {
			t.Fatal(err)
		}
		fx := score(net.Forward(x).Values(), 0, out)
		f0 := score(net.Forward(tensor.New(1, 16, 16, 3)).Values(), 0, out)
		var s float64
		for _, v := range heat.Data {
			s += float64(v)
		}
		if math.Abs(s-(fx-f0)) > 1e-4 {
			t.Errorf("%s: map sums to %g, want f(x) - f(reference) = %g", out, s, fx-f0)
		}
	}
}

// batchSpy wraps a model and records the largest batch it is given.
type batchSpy struct {
	nn.Module
	largest int
}

func (b *batchSpy) Forward(x *tensor.Tensor) *tensor.Tensor {
	b.largest = max(b.largest, x.Dim(0))
	return b.Module.Forward(x)
}

// TestRegistryAndBatchBound makes every registered method through New,
// runs it, and checks that the map has the image's size, is finite and
// that no pass saw more images than the batch limit.
func TestRegistryAndBatchBound(t *testing.T) {
	x := patchImage(16, 4, 4, 4, 1, 5)
	o := Options{Batch: 5, Steps: 12, Samples: 23, Segments: 10}
	for _, name := range Names() {
		m, err := New(name, o)
		if err != nil {
			t.Fatal(err)
		}
		if m.Name() != name {
			t.Errorf("New(%q) made %q", name, m.Name())
		}
		spy := &batchSpy{Module: colourNet()}
		var target nn.Module = spy
		if strings.HasPrefix(name, "gradcam") {
			target = colourNet() // the spy hides the feature split
		}
		heat, err := m.Explain(target, x, 1)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if heat.Dim(0) != 16 || heat.Dim(1) != 16 {
			t.Errorf("%s: map shape %v", name, heat.Shape)
		}
		for _, v := range heat.Data {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				t.Fatalf("%s: map holds %g", name, v)
			}
		}
		if spy.largest > o.Batch {
			t.Errorf("%s: a pass of %d images, limit %d", name, spy.largest, o.Batch)
		}
	}
	if _, err := New("gradcam", Options{}); err != nil {
		t.Fatal(err)
	}
}

// TestMethodErrors checks the errors of unknown names and baselines, a
// black baseline without black's value and bad inputs to every method.
func TestMethodErrors(t *testing.T) {
	if _, err := New("deeplift", Options{}); err == nil || !strings.Contains(err.Error(), "unknown method") {
		t.Errorf("New(deeplift): %v", err)
	}
	if _, err := New("ig", Options{Baseline: "white"}); err == nil || !strings.Contains(err.Error(), "baseline") {
		t.Errorf("baseline white: %v", err)
	}
	x := patchImage(8, 0, 0, 2, 0, 1)
	if _, err := (IntegratedGradients{Reference: Reference{Baseline: BaselineBlack}}).Explain(colourNet(), x, 0); err == nil ||
		!strings.Contains(err.Error(), "black") {
		t.Errorf("black without values: %v", err)
	}
	bad := []*tensor.Tensor{nil, tensor.New(8, 8, 3), tensor.New(3, 8, 8, 3), tensor.New(1, 8, 8, 2)}
	for _, name := range Names() {
		m, _ := New(name, Options{Samples: 8, Steps: 4})
		for _, b := range bad {
			if name == "random" && b != nil && b.Dims() == 4 && b.Dim(0) == 1 {
				continue // random maps never run the model
			}
			if _, err := m.Explain(colourNet(), b, 0); err == nil {
				t.Errorf("%s: input %v gave no error", name, shapeOf(b))
			}
		}
		if name != "random" {
			if _, err := m.Explain(colourNet(), x, 7); err == nil || !strings.Contains(err.Error(), "out of range") {
				t.Errorf("%s: class 7: %v", name, err)
			}
		}
	}
}

func shapeOf(t *tensor.Tensor) []int {
	if t == nil {
		return nil
	}
	return t.Shape
}

// TestSuperpixels checks SLIC's regions: every label used, each region
// connected, a count near the one asked for, and no region straddling a
// sharp colour edge.
func TestSuperpixels(t *testing.T) {
	const h, w = 20, 30
	img := tensor.New(h, w, 3)
	rng := rand.New(rand.NewPCG(2, 2))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			v := float32(0.1)
			if x >= 13 {
				v = 0.9
			}
			for c := 0; c < 3; c++ {
				img.Data[(y*w+x)*3+c] = v + 0.02*float32(rng.NormFloat64())
			}
		}
	}
	for _, n := range []int{1, 6, 24, 60} {
		labels, k := Superpixels(img, n)
		if k < 1 || (n > 1 && (k < n/3 || k > 2*n+2)) {
			t.Errorf("n=%d: %d regions", n, k)
		}
		side := map[int]int{} // region -> 1 left, 2 right, 3 both
		seen := make([]bool, k)
		for p, l := range labels {
			if l < 0 || l >= k {
				t.Fatalf("n=%d: label %d outside [0, %d)", n, l, k)
			}
			seen[l] = true
			if p%w >= 13 {
				side[l] |= 2
			} else {
				side[l] |= 1
			}
		}
		for l, s := range seen {
			if !s {
				t.Errorf("n=%d: label %d unused", n, l)
			}
		}
		if n >= 6 {
			for l, s := range side {
				if s == 3 {
					t.Errorf("n=%d: region %d straddles the edge", n, l)
				}
			}
		}
		if c := components(labels, h, w); c != k {
			t.Errorf("n=%d: %d regions but %d connected pieces", n, k, c)
		}
	}
}

// components counts the 4-connected pieces of equal labels.
func components(labels []int, h, w int) int {
	seen := make([]bool, len(labels))
	n := 0
	for s := range labels {
		if seen[s] {
			continue
		}
		n++
		stack := []int{s}
		seen[s] = true
		for len(stack) > 0 {
			p := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			y, x := p/w, p%w
			for _, q := range [][2]int{{y - 1, x}, {y + 1, x}, {y, x - 1}, {y, x + 1}} {
				if q[0] < 0 || q[0] >= h || q[1] < 0 || q[1] >= w {
					continue
				}
				j := q[0]*w + q[1]
				if !seen[j] && labels[j] == labels[p] {
					seen[j] = true
					stack = append(stack, j)
				}
			}
		}
	}
	return n
}
