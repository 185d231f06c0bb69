package explain

import (
	"math/rand/v2"
	"testing"

	"github.com/deepscope/deepscope/models"
	"github.com/deepscope/deepscope/tensor"
)

// BenchmarkMethods times each method with its defaults on an untrained
// CellNet and one 32-pixel image: what a map costs.
//
//	go test ./explain -run - -bench Methods -benchtime 3x
func BenchmarkMethods(b *testing.B) {
	net, err := models.New("cellnet", rand.New(rand.NewPCG(1, 1)), models.Spec{Classes: 8, Size: 32})
	if err != nil {
		b.Fatal(err)
	}
	x := tensor.Randn(rand.New(rand.NewPCG(2, 2)), 1, 1, 32, 32, 3)
	for _, name := range append(Standard(), "random") {
		m, _ := New(name, Options{})
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				if _, err := m.Explain(net, x, 3); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkFaithfulness runs the deletion and insertion comparison of all
// methods on synthetic images with a planted patch and reports each
// method's areas as metrics (del, ins), so a change that makes a method
// less faithful shows in the benchmark output.
//
//	go test ./explain -run - -bench Faithfulness -benchtime 1x
func BenchmarkFaithfulness(b *testing.B) {
	net := colourNet()
	rng := rand.New(rand.NewPCG(4, 4))
	var xs []*tensor.Tensor
	var classes []int
	for i := range 8 {
		xs = append(xs, texturedImage(24, rng.IntN(18), rng.IntN(18), 6, i%3, uint64(i)))
		classes = append(classes, i%3)
	}
	var methods []Method
	for _, n := range append(Standard(), "random") {
		m, _ := New(n, Options{})
		methods = append(methods, m)
	}
	for _, m := range methods {
		b.Run(m.Name(), func(b *testing.B) {
			var rows []FaithfulnessRow
			for b.Loop() {
				var err error
				if rows, err = (Faithfulness{}).Evaluate(net, []Method{m}, xs, classes, nil); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(rows[0].Deletion, "del")
			b.ReportMetric(rows[0].Insertion, "ins")
		})
	}
}
