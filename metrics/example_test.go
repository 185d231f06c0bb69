package metrics_test

import (
	"fmt"

	"github.com/deepscope/deepscope/metrics"
)

func ExampleEvaluate() {
	labels := []int{0, 0, 1, 1, 2, 2}
	probs := [][]float64{
		{0.8, 0.1, 0.1}, {0.4, 0.5, 0.1}, {0.2, 0.7, 0.1},
		{0.1, 0.8, 0.1}, {0.1, 0.2, 0.7}, {0.3, 0.1, 0.6},
	}
	r, err := metrics.Evaluate(labels, probs, []string{"lymphocyte", "monocyte", "neutrophil"}, metrics.Options{Resamples: -1})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("accuracy %.3f, macro AUC %.3f\n", r.Accuracy, r.AUC)
	for _, c := range r.PerClass {
		fmt.Printf("%-10s recall %.2f precision %.2f\n", c.Name, c.Recall, c.Precision)
	}
	fmt.Println("confusion", r.Confusion)
	// Output:
	// accuracy 0.833, macro AUC 1.000
	// lymphocyte recall 0.50 precision 1.00
	// monocyte   recall 1.00 precision 0.67
	// neutrophil recall 1.00 precision 1.00
	// confusion [[1 1 0] [0 2 0] [0 0 2]]
}
