//go:build !noasm

package tensor

// Assembly kernels (AVX2 and FMA), bodies in *_amd64.s. Each has a pure-Go
// twin (the same name with a Go suffix) used where the CPU lacks AVX2 or
// FMA, in builds with the noasm tag, and as the reference in tests. Callers
// guarantee the slice lengths; the kernels do not check them.

const asmBuild = true

// sgemmKernelAVX2 computes one 6×16 tile of C from packed panels: a holds k
// groups of 6 values (a column of op(A)), b holds k groups of 16 (a row of
// op(B)):
//
//	for i := 0; i < 6; i++ {
//		for j := 0; j < 16; j++ {
//			var s float32
//			for p := 0; p < k; p++ {
//				s += a[p*6+i] * b[p*16+j]
//			}
//			if beta == 0 { c[i*ldc+j] = alpha * s } else { c[i*ldc+j] = alpha*s + beta*c[i*ldc+j] }
//		}
//	}
//
// beta must be +0 when C is not to be read.
//
//go:noescape
func sgemmKernelAVX2(k int, a, b, c []float32, ldc int, alpha, beta float32)

// fmaPeakAVX2 runs n iterations of 24 independent 8-lane fused multiply-adds
// (12 accumulators, two rounds): 384*n flops.
//
//	for i := 0; i < n; i++ { for r := 0; r < 24; r++ { acc[r%12] += x * y } }
func fmaPeakAVX2(n int)

// axpyAVX2 adds alpha*x to y; len(y) >= len(x).
//
//	for i, v := range x { y[i] += alpha * v }
//
//go:noescape
func axpyAVX2(alpha float32, x, y []float32)

// dotAVX2 returns the dot product of x and y; len(y) >= len(x).
//
//	for i, v := range x { s += v * y[i] }
//
//go:noescape
func dotAVX2(x, y []float32) float32

// scaleAVX2 multiplies x by alpha in place.
//
//	for i := range x { x[i] *= alpha }
//
//go:noescape
func scaleAVX2(alpha float32, x []float32)

// addAVX2 stores a+b in dst; len(a), len(b) >= len(dst).
//
//	for i := range dst { dst[i] = a[i] + b[i] }
//
//go:noescape
func addAVX2(dst, a, b []float32)

// sgemmKernelStridedAVX2 is sgemmKernelAVX2 with the A panel read in
// place: element (i, p) of op(A)'s panel is a[i*rs+p*cs].
//
//	for i := 0; i < 6; i++ {
//		for j := 0; j < 16; j++ {
//			var s float32
//			for p := 0; p < k; p++ {
//				s += a[i*rs+p*cs] * b[p*16+j]
//			}
//			if beta == 0 { c[i*ldc+j] = alpha * s } else { c[i*ldc+j] = alpha*s + beta*c[i*ldc+j] }
//		}
//	}
//
//go:noescape
func sgemmKernelStridedAVX2(k int, a []float32, rs, cs int, b, c []float32, ldc, pf int, alpha, beta float32)

// packATransAVX2 packs the first 6*panels columns of kc rows of a (lda
// apart) into panels of six, each panel kc*6 values long: it is packA for
// a transposed A, with rows of a read front to back.
//
//	for p := 0; p < kc; p++ {
//		for q := 0; q < panels; q++ {
//			copy(dst[q*kc*6+p*6:q*kc*6+p*6+6], a[p*lda+q*6:p*lda+q*6+6])
//		}
//	}
//
//go:noescape
func packATransAVX2(dst, a []float32, lda, kc, panels int)

// packB16AVX2 copies kc runs of 16 values, ldb apart, into dst: the packed
// panel of sixteen columns of B.
//
//	for p := 0; p < kc; p++ { copy(dst[p*16:p*16+16], b[p*ldb:p*ldb+16]) }
//
//go:noescape
func packB16AVX2(dst, b []float32, ldb, kc int)

// packBTransAVX2 packs a panel of sixteen columns of op(B) from a
// transposed B: rows of b become columns of the panel. kc must be a
// multiple of 8.
//
//	for p := 0; p < kc; p++ {
//		for j := 0; j < 16; j++ {
//			dst[p*16+j] = b[j*ldb+p]
//		}
//	}
//
//go:noescape
func packBTransAVX2(dst, b []float32, ldb, kc int)

// sgemmKernel12x32AVX512 computes a 12×32 tile of C from two packed A
// panels (rows 0-5 and 6-11) and two packed B panels (columns 0-15 and
// 16-31): four sgemmKernelAVX2 tiles at once in zmm registers. Not yet run
// on AVX-512 hardware; see useWide.
//
//	for i := 0; i < 12; i++ {
//		for j := 0; j < 32; j++ {
//			a, b := a0[i:], b0[j:]
//			if i >= 6 { a = a1[i-6:] }
//			if j >= 16 { b = b1[j-16:] }
//			var s float32
//			for p := 0; p < k; p++ {
//				s += a[p*6] * b[p*16]
//			}
//			if beta == 0 { c[i*ldc+j] = alpha * s } else { c[i*ldc+j] = alpha*s + beta*c[i*ldc+j] }
//		}
//	}
//
//go:noescape
func sgemmKernel12x32AVX512(k int, a0, a1, b0, b1, c []float32, ldc int, alpha, beta float32)

// sgemmKernelStrided12x32AVX512 is sgemmKernel12x32AVX512 with the twelve
// rows of A read in place, element (i, p) at a[i*rs+p*cs], prefetching pf
// values ahead as sgemmKernelStridedAVX2 does. Not yet run on AVX-512
// hardware; see useWide.
//
//	for i := 0; i < 12; i++ {
//		for j := 0; j < 32; j++ {
//			b := b0[j:]
//			if j >= 16 { b = b1[j-16:] }
//			var s float32
//			for p := 0; p < k; p++ {
//				s += a[i*rs+p*cs] * b[p*16]
//			}
//			if beta == 0 { c[i*ldc+j] = alpha * s } else { c[i*ldc+j] = alpha*s + beta*c[i*ldc+j] }
//		}
//	}
//
//go:noescape
func sgemmKernelStrided12x32AVX512(k int, a []float32, rs, cs int, b0, b1, c []float32, ldc, pf int, alpha, beta float32)

// fmaPeakAVX512 runs n iterations of 24 independent 16-lane fused
// multiply-adds: 768*n flops.
//
//	for i := 0; i < n; i++ { for r := 0; r < 24; r++ { acc[r] += x * y } }
func fmaPeakAVX512(n int)

// channelMomentsAVX2 is channelMomentsGo (see ChannelMoments) for c a
// multiple of 8, with float32 partial sums in a different order.
//
//go:noescape
func channelMomentsAVX2(x []float32, rows, c int, mean []float32, sum, sq []float64)

// channelGradSumsAVX2 is channelGradSumsGo (see ChannelGradSums) for c a
// multiple of 8; y may be nil.
//
//go:noescape
func channelGradSumsAVX2(dy, x, y []float32, rows, c int, mean []float32, s, sx []float64)

// channelAffineAVX2 is channelAffineGo (see ChannelAffine) for c a
// multiple of 8; y may be nil.
//
//go:noescape
func channelAffineAVX2(o, dy, x, y []float32, rows, c int, coef []float32)

// channelScaleShiftAVX2 is channelScaleShiftGo (see ChannelScaleShift)
// for c a multiple of 8; res may be nil; bit 0 of flags asks for the ReLU.
//
//go:noescape
func channelScaleShiftAVX2(y, x, res []float32, rows, c int, scale, shift []float32, flags int)

// maskPositiveAVX2 is maskPositiveGo (see MaskPositive).
//
//go:noescape
func maskPositiveAVX2(dst, g, y []float32)

// addRunsAVX2 is addRunsGo for len(d) a multiple of 8: each group of eight
// values of d is loaded once, every run's values added, and stored once.
// The caller guarantees col[k:k+len(d)] is in range for every k in offs.
//
//	for _, k := range offs { for i := range d { d[i] += col[k+i] } }
//
//go:noescape
func addRunsAVX2(d, col []float32, offs []int)
