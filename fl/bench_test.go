package fl

import (
	"math/rand/v2"
	"testing"
)

// benchUpdates returns five updates the size of CellNet (1.6M values).
func benchUpdates() []Update {
	rng := rand.New(rand.NewPCG(1, 2))
	var us []Update
	for i := range 5 {
		d := make([]float32, 1_600_000)
		for j := range d {
			d[j] = float32(rng.NormFloat64() * 0.01)
		}
		us = append(us, Update{Client: string(rune('a' + i)), Samples: 100 * (i + 1), Delta: d})
	}
	return us
}

func BenchmarkCombine(b *testing.B) {
	us := benchUpdates()
	for _, m := range []string{FedAvg, Median, Trimmed} {
		b.Run(m, func(b *testing.B) {
			for b.Loop() {
				if _, _, err := Combine(us, AggregateConfig{Method: m}, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkMaskUpdate is one client's masking of a CellNet-sized update in
// a cohort of five: fixed-point coding and four ChaCha8 mask streams.
func BenchmarkMaskUpdate(b *testing.B) {
	keys, peers, _ := cohortKeys(5)
	d := benchUpdates()[0].Delta
	for b.Loop() {
		if _, _, err := MaskUpdate(keys[0], peers[0].ID, peers, "t", 0.2, d); err != nil {
			b.Fatal(err)
		}
	}
}
