package audit_test

import (
	"fmt"

	"github.com/deepscope/deepscope/audit"
)

// An audit of predictions from two sites: the model finds every positive
// at site A but misses a third of them at site B.
func ExampleRun() {
	var d audit.Data
	d.Classes = []string{"normal", "blast"}
	site := audit.Column{Name: "site"}
	add := func(s string, label, pred, n int) {
		for range n {
			p := []float64{0.9, 0.1}
			if pred == 1 {
				p = []float64{0.1, 0.9}
			}
			d.Labels, d.Probs = append(d.Labels, label), append(d.Probs, p)
			site.Values = append(site.Values, s)
		}
	}
	add("A", 0, 0, 60)
	add("A", 1, 1, 30)
	add("B", 0, 0, 60)
	add("B", 1, 1, 20)
	add("B", 1, 0, 10)
	d.Columns = []audit.Column{site}

	r, err := audit.Run(d, audit.Config{Resamples: -1, Limits: audit.MaxGapAll(0.1)})
	if err != nil {
		fmt.Println(err)
		return
	}
	a := r.Attributes[0]
	for _, c := range audit.Criteria {
		g := a.Worst(c)
		fmt.Printf("%-18s gap %.3f (%s lowest, %s highest): %s\n", c, g.Gap.Value, g.Low, g.High, a.CriterionVerdict(c))
	}
	fmt.Println("verdict:", r.Verdict)
	// Output:
	// accuracy           gap 0.111 (B lowest, A highest): fail
	// demographic_parity gap 0.111 (A lowest, B highest): fail
	// equal_opportunity  gap 0.333 (B lowest, A highest): fail
	// equalized_odds     gap 0.333 (B lowest, A highest): fail
	// verdict: fail
}
