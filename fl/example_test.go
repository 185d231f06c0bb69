package fl_test

import (
	"fmt"

	"github.com/deepscope/deepscope/fl"
)

// Three sites' updates of a two-value model: FedAvg weights them by their
// images, the median shrugs off the third site's wild update.
func ExampleCombine() {
	updates := []fl.Update{
		{Client: "site1", Samples: 100, Delta: []float32{0.1, -0.2}},
		{Client: "site2", Samples: 300, Delta: []float32{0.3, -0.1}},
		{Client: "site3", Samples: 100, Delta: []float32{9, 9}},
	}
	for _, method := range []string{fl.FedAvg, fl.Median} {
		step, rejected, err := fl.Combine(updates, fl.AggregateConfig{Method: method, NormFactor: -1}, nil)
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("%s: %.2f (rejected %d)\n", method, step, len(rejected))
	}
	// With the norm check on (the default), the wild update is rejected.
	step, rejected, _ := fl.Combine(updates, fl.AggregateConfig{}, nil)
	fmt.Printf("fedavg, norm check: %.2f, rejected %s\n", step, rejected[0].Client)
	// Output:
	// fedavg: [2.00 1.70] (rejected 0)
	// median: [0.30 -0.10] (rejected 0)
	// fedavg, norm check: [0.25 -0.12], rejected site3
}

// Two sites mask their updates with pairwise masks; the server adds the
// masked vectors and recovers the sum without seeing either update.
func ExampleMaskUpdate() {
	k1, _ := fl.NewMaskKey()
	k2, _ := fl.NewMaskKey()
	cohort := []fl.Peer{{ID: "site1", PublicKey: k1.PublicKey().Bytes()}, {ID: "site2", PublicKey: k2.PublicKey().Bytes()}}
	m1, _, _ := fl.MaskUpdate(k1, "site1", cohort, "round-1", 0.5, []float32{0.25, -1})
	m2, _, _ := fl.MaskUpdate(k2, "site2", cohort, "round-1", 0.5, []float32{0.75, 3})
	fl.SumMasked(m1, m2)
	fmt.Printf("mean of the updates: %.4f\n", fl.DecodeSum(m1))
	// Output:
	// mean of the updates: [0.5000 1.0000]
}
