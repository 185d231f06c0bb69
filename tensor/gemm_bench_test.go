package tensor_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/deepscope/deepscope/tensor"
)

// ResNet-18 at batch 128 with channels-last convolutions as GEMM:
// forward C[M,N] = col[M,K]·Wᵀ (W is [N,K]); weight gradient
// dW[K,N] = colᵀ·dY; input gradient dCol[M,K] = dY[M,N]·W.
var gemmBenchShapes = []struct {
	name           string
	transA, transB bool
	m, n, k        int
}{
	{"fwd-layer1", false, true, 100352, 64, 576},
	{"fwd-layer2", false, true, 25088, 128, 1152},
	{"fwd-layer3", false, true, 6272, 256, 2304},
	{"fwd-layer4", false, true, 2048, 512, 4608},
	{"wgrad-layer1", true, false, 576, 64, 100352},
	{"wgrad-layer2", true, false, 1152, 128, 25088},
	{"wgrad-layer3", true, false, 2304, 256, 6272},
	{"wgrad-layer4", true, false, 4608, 512, 2048},
	{"igrad-layer1", false, false, 100352, 576, 64},
	{"igrad-layer4", false, false, 2048, 4608, 512},
	{"square-1024", false, false, 1024, 1024, 1024},
}

func BenchmarkGemm(b *testing.B) {
	defer tensor.SetThreads(tensor.Threads())
	rng := rand.New(rand.NewPCG(1, 1))
	for _, s := range gemmBenchShapes {
		ar, ac := s.m, s.k
		if s.transA {
			ar, ac = s.k, s.m
		}
		br, bc := s.k, s.n
		if s.transB {
			br, bc = s.n, s.k
		}
		a := tensor.Uniform(rng, -1, 1, ar, ac).Data
		bm := tensor.Uniform(rng, -1, 1, br, bc).Data
		c := make([]float32, s.m*s.n)
		for _, threads := range []int{1, 2} {
			b.Run(fmt.Sprintf("%s/%dx%dx%d/threads=%d", s.name, s.m, s.n, s.k, threads), func(b *testing.B) {
				tensor.SetThreads(threads)
				// The peak is measured beside each case, so that both
				// figures see the same load on a shared machine.
				peak := tensor.PeakGFLOPS(threads)
				tensor.Gemm(s.transA, s.transB, s.m, s.n, s.k, 1, a, ac, bm, bc, 0, c, s.n)
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					tensor.Gemm(s.transA, s.transB, s.m, s.n, s.k, 1, a, ac, bm, bc, 0, c, s.n)
				}
				gflops := 2 * float64(s.m) * float64(s.n) * float64(s.k) * float64(b.N) / b.Elapsed().Seconds() / 1e9
				b.ReportMetric(gflops, "GFLOP/s")
				b.ReportMetric(100*gflops/peak, "%peak")
			})
		}
	}
}

func BenchmarkPeak(b *testing.B) {
	for _, threads := range []int{1, 2} {
		b.Run(fmt.Sprintf("threads=%d", threads), func(b *testing.B) {
			var p float64
			for i := 0; i < b.N; i++ {
				p = tensor.PeakGFLOPS(threads)
			}
			b.ReportMetric(p, "GFLOP/s")
		})
	}
}

func BenchmarkVector(b *testing.B) {
	const n = 1 << 16
	x, y := make([]float32, n), make([]float32, n)
	b.Run("Axpy", func(b *testing.B) {
		b.SetBytes(3 * 4 * n)
		for i := 0; i < b.N; i++ {
			tensor.Axpy(0.5, x, y)
		}
	})
	b.Run("Dot", func(b *testing.B) {
		b.SetBytes(2 * 4 * n)
		for i := 0; i < b.N; i++ {
			tensor.Dot(x, y)
		}
	})
	b.Run("Scale", func(b *testing.B) {
		b.SetBytes(2 * 4 * n)
		for i := 0; i < b.N; i++ {
			tensor.Scale(1, y)
		}
	})
	b.Run("Add", func(b *testing.B) {
		b.SetBytes(3 * 4 * n)
		for i := 0; i < b.N; i++ {
			tensor.Add(y, x, y)
		}
	})
}
