package explain

import (
	"bytes"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/deepscope/deepscope/tensor"
)

// patchMap returns the ideal map of patchImage: 1 on the patch, 0 elsewhere.
func patchMap(s, y0, x0, p int) *tensor.Tensor {
	m := tensor.New(s, s)
	for y := y0; y < y0+p; y++ {
		for x := x0; x < x0+p; x++ {
			m.Data[y*s+x] = 1
		}
	}
	return m
}

// TestCurves checks the deletion and insertion curves' ends and that the
// true map beats a random one: its deletion area is smaller, its insertion
// area larger.
func TestCurves(t *testing.T) {
	const s = 16
	net := colourNet()
	x := patchImage(s, 5, 6, 4, 0, 2)
	f := Faithfulness{Steps: 16, Batch: 7}
	ideal, err := f.Curves(net, x, 0, patchMap(s, 5, 6, 4))
	if err != nil {
		t.Fatal(err)
	}
	rnd, _ := Random{Seed: 1}.Explain(net, x, 0)
	random, err := f.Curves(net, x, 0, rnd)
	if err != nil {
		t.Fatal(err)
	}
	px := score(net.Forward(x).Values(), 0, Probability)
	p0 := score(net.Forward(tensor.New(1, s, s, 3)).Values(), 0, Probability)
	for _, c := range []*Curves{ideal, random} {
		if len(c.Deletion) != 17 || len(c.Insertion) != 17 {
			t.Fatalf("curves of %d and %d points, want 17", len(c.Deletion), len(c.Insertion))
		}
		if math.Abs(c.Deletion[0]-px) > 1e-6 || math.Abs(c.Insertion[16]-px) > 1e-6 {
			t.Errorf("curves end at %g and %g, want p(x) = %g", c.Deletion[0], c.Insertion[16], px)
		}
		if math.Abs(c.Deletion[16]-p0) > 1e-6 {
			t.Errorf("deletion ends at %g, want p(reference) = %g", c.Deletion[16], p0)
		}
	}
	// The patch is 16 of 256 pixels: deleting it is the first step.
	if ideal.Deletion[1] > 0.5 || ideal.DeletionAUC >= random.DeletionAUC {
		t.Errorf("ideal map: deletion %v (area %.3f), random map area %.3f", ideal.Deletion[:3], ideal.DeletionAUC, random.DeletionAUC)
	}
	if ideal.InsertionAUC <= random.InsertionAUC {
		t.Errorf("ideal map's insertion area %.3f not above the random map's %.3f", ideal.InsertionAUC, random.InsertionAUC)
	}
	if _, err := f.Curves(net, x, 0, tensor.New(8, 8)); err == nil {
		t.Error("a map of the wrong size gave no error")
	}
}

// TestTrapezoid checks the area on simple curves.
func TestTrapezoid(t *testing.T) {
	cases := []struct {
		y    []float64
		want float64
	}{{[]float64{1, 1, 1}, 1}, {[]float64{1, 0}, 0.5}, {[]float64{0, 1, 1, 1, 1}, 0.875}, {[]float64{3}, 0}}
	for _, c := range cases {
		if got := trapezoid(c.y); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("trapezoid(%v) = %g, want %g", c.y, got, c.want)
		}
	}
}

// TestFaithfulnessEvaluate runs the whole comparison on synthetic images
// with a planted patch and checks that the gradient and perturbation
// methods beat the random map on both measures, and the table's shape.
func TestFaithfulnessEvaluate(t *testing.T) {
	const s = 16
	net := colourNet()
	var xs []*tensor.Tensor
	var classes []int
	rng := rand.New(rand.NewPCG(4, 4))
	for i := range 4 {
		xs = append(xs, patchImage(s, rng.IntN(s-4), rng.IntN(s-4), 4, i%3, uint64(i)))
		classes = append(classes, i%3)
	}
	var methods []Method
	for _, n := range append(Standard(), "random") {
		m, err := New(n, Options{Samples: 64, Steps: 16, Segments: 16})
		if err != nil {
			t.Fatal(err)
		}
		methods = append(methods, m)
	}
	calls := 0
	rows, err := Faithfulness{Steps: 16}.Evaluate(net, methods, xs, classes, func(string, int, int) { calls++ })
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(methods) || calls != len(methods)*len(xs) {
		t.Fatalf("%d rows and %d progress calls", len(rows), calls)
	}
	random := rows[len(rows)-1]
	for _, r := range rows[:len(rows)-1] {
		if r.N != 4 || r.Deletion >= random.Deletion || r.Insertion <= random.Insertion {
			t.Errorf("%s: deletion %.3f insertion %.3f; random: %.3f %.3f", r.Method, r.Deletion, r.Insertion, random.Deletion, random.Insertion)
		}
	}
	var b bytes.Buffer
	if err := WriteFaithfulnessTable(&b, rows); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != len(rows)+2 || !strings.HasPrefix(lines[2], "| gradcam | 4 | ") {
		t.Errorf("table:\n%s", b.String())
	}
	t.Logf("\n%s", b.String())
}
