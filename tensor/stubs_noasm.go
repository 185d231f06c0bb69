//go:build noasm || !amd64

package tensor

// Builds without assembly: the AVX2 names forward to the pure-Go twins, so
// the dispatching code compiles unchanged; useAVX2 is false and they are
// never reached through it.

const asmBuild = false

// sgemmKernelAVX2 is sgemmKernelGo in builds without assembly.
func sgemmKernelAVX2(k int, a, b, c []float32, ldc int, alpha, beta float32) {
	sgemmKernelGo(k, a, b, c, ldc, alpha, beta)
}

// fmaPeakAVX2 is never called in builds without assembly (PeakGFLOPS runs
// fmaPeakGo there).
func fmaPeakAVX2(n int) { panic("tensor: fmaPeakAVX2 in a build without assembly") }

// axpyAVX2 is axpyGo in builds without assembly.
func axpyAVX2(alpha float32, x, y []float32) { axpyGo(alpha, x, y) }

// dotAVX2 is dotGo in builds without assembly.
func dotAVX2(x, y []float32) float32 { return dotGo(x, y) }

// scaleAVX2 is scaleGo in builds without assembly.
func scaleAVX2(alpha float32, x []float32) { scaleGo(alpha, x) }

// addAVX2 is addGo in builds without assembly.
func addAVX2(dst, a, b []float32) { addGo(dst, a, b) }

// sgemmKernelStridedAVX2 is sgemmKernelStridedGo in builds without assembly.
func sgemmKernelStridedAVX2(k int, a []float32, rs, cs int, b, c []float32, ldc, pf int, alpha, beta float32) {
	sgemmKernelStridedGo(k, a, rs, cs, b, c, ldc, pf, alpha, beta)
}

// packATransAVX2 is packATransGo in builds without assembly.
func packATransAVX2(dst, a []float32, lda, kc, panels int) { packATransGo(dst, a, lda, kc, panels) }

// packB16AVX2 is packB16Go in builds without assembly.
func packB16AVX2(dst, b []float32, ldb, kc int) { packB16Go(dst, b, ldb, kc) }

// packBTransAVX2 is packBTransGo in builds without assembly.
func packBTransAVX2(dst, b []float32, ldb, kc int) { packBTransGo(dst, b, ldb, kc) }

// sgemmKernel12x32AVX512 is sgemmKernel12x32Go in builds without assembly.
func sgemmKernel12x32AVX512(k int, a0, a1, b0, b1, c []float32, ldc int, alpha, beta float32) {
	sgemmKernel12x32Go(k, a0, a1, b0, b1, c, ldc, alpha, beta)
}

// sgemmKernelStrided12x32AVX512 is sgemmKernelStrided12x32Go in builds
// without assembly.
func sgemmKernelStrided12x32AVX512(k int, a []float32, rs, cs int, b0, b1, c []float32, ldc, pf int, alpha, beta float32) {
	sgemmKernelStrided12x32Go(k, a, rs, cs, b0, b1, c, ldc, pf, alpha, beta)
}

// fmaPeakAVX512 is never called in builds without assembly.
func fmaPeakAVX512(n int) { panic("tensor: fmaPeakAVX512 in a build without assembly") }

// channelMomentsAVX2 is channelMomentsGo in builds without assembly.
func channelMomentsAVX2(x []float32, rows, c int, mean []float32, sum, sq []float64) {
	channelMomentsGo(x, rows, c, mean, sum, sq)
}

// channelGradSumsAVX2 is channelGradSumsGo in builds without assembly.
func channelGradSumsAVX2(dy, x, y []float32, rows, c int, mean []float32, s, sx []float64) {
	channelGradSumsGo(dy, x, y, rows, c, mean, s, sx)
}

// channelAffineAVX2 is channelAffineGo in builds without assembly.
func channelAffineAVX2(o, dy, x, y []float32, rows, c int, coef []float32) {
	channelAffineGo(o, dy, x, y, rows, c, coef)
}

// channelScaleShiftAVX2 is channelScaleShiftGo in builds without assembly.
func channelScaleShiftAVX2(y, x, res []float32, rows, c int, scale, shift []float32, flags int) {
	channelScaleShiftGo(y, x, res, rows, c, scale, shift, flags)
}

// maskPositiveAVX2 is maskPositiveGo in builds without assembly.
func maskPositiveAVX2(dst, g, y []float32) { maskPositiveGo(dst, g, y) }

// addRunsAVX2 is addRunsGo in builds without assembly.
func addRunsAVX2(d, col []float32, offs []int) { addRunsGo(d, col, offs) }
