package tboard

import (
	"math/rand/v2"
	"testing"
)

// BenchmarkHistogram bins one million normal values (a mid-sized layer's
// weights) into the default buckets.
func BenchmarkHistogram(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	vs := make([]float32, 1<<20)
	for i := range vs {
		vs[i] = float32(rng.NormFloat64() * 0.05)
	}
	b.SetBytes(4 << 20)
	for b.Loop() {
		newHistogram(vs)
	}
}

// BenchmarkScalar measures one buffered scalar write.
func BenchmarkScalar(b *testing.B) {
	w, err := NewWriter(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	b.ReportAllocs()
	for i := int64(0); b.Loop(); i++ {
		w.Scalar("loss/train", i, 0.5)
	}
}
