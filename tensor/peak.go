package tensor

import (
	"runtime"
	"sync"
	"time"
)

// PeakGFLOPS measures the machine's float32 fused multiply-add throughput on
// the given number of threads (goroutines; <= 0 means Threads()) and
// returns it in GFLOP/s, counting two flops per FMA lane. Each thread runs
// a loop of 12 independent 8-lane FMA chains (enough to cover FMA latency
// on two pipes) in four rounds of 50 ms; the figure is the best round.
// It is the ceiling that Gemm's speed is judged against. Without AVX2 and
// FMA (or in noasm builds) it measures a scalar Go loop instead.
//
// With the AVX-512 kernels on (see GemmKernel) it runs 24 zmm chains
// instead, the ceiling those kernels can reach; otherwise, AVX-512 CPUs
// included, it is the AVX2 (256-bit) ceiling. It takes about 200 ms and keeps the threads busy
// meanwhile.
func PeakGFLOPS(threads int) float64 {
	if threads <= 0 {
		threads = Threads()
	}
	const rounds, span = 4, 50 * time.Millisecond
	iters, flopsPerIter := 1<<14, 384.0
	sinks := make([]float32, threads) // keeps the Go loop's sums alive
	run := func(t, n int) { fmaPeakAVX2(n) }
	if useWide {
		flopsPerIter = 768
		run = func(t, n int) { fmaPeakAVX512(n) }
	}
	if !useAVX2 {
		iters, flopsPerIter = 1<<12, 2*peakChains*peakUnroll
		run = func(t, n int) { sinks[t] += fmaPeakGo(n) }
	}
	best := 0.0
	for r := 0; r < rounds; r++ {
		var wg sync.WaitGroup
		counts := make([]int, threads)
		start := time.Now()
		for t := 0; t < threads; t++ {
			wg.Add(1)
			go func(t int) {
				defer wg.Done()
				for time.Since(start) < span {
					run(t, iters)
					counts[t] += iters
				}
			}(t)
		}
		wg.Wait()
		el := time.Since(start).Seconds()
		runtime.KeepAlive(sinks)
		total := 0
		for _, c := range counts {
			total += c
		}
		if g := float64(total) * flopsPerIter / el / 1e9; g > best {
			best = g
		}
	}
	return best
}

const peakChains, peakUnroll = 8, 4

// fmaPeakGo is the pure-Go twin of fmaPeakAVX2: n iterations of 32 scalar
// multiply-adds over 8 independent sums (2*32*n flops).
//
//	for i := 0; i < n; i++ { for r := 0; r < 32; r++ { acc[r%8] = acc[r%8]*x + y } }
func fmaPeakGo(n int) float32 {
	x, y := float32(0.999), float32(0.001)
	var a0, a1, a2, a3, a4, a5, a6, a7 float32
	for i := 0; i < n; i++ {
		for u := 0; u < peakUnroll; u++ {
			a0 = a0*x + y
			a1 = a1*x + y
			a2 = a2*x + y
			a3 = a3*x + y
			a4 = a4*x + y
			a5 = a5*x + y
			a6 = a6*x + y
			a7 = a7*x + y
		}
	}
	return a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7
}
