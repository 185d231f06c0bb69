package tensor

// The optional AVX-512 path: a 12×32 tile, four 6×16 tiles at once, from
// the same packed panels (two A panels, two B panels side by side), so the
// packing and blocking stay as they are. Edge strips narrower than 12 rows
// or 32 columns fall back to the 6×16 kernels.
//
// The AVX-512 path is on wherever the CPU has AVX-512F (DEEPSCOPE_AVX512=0
// turns it off; see cpu.go). Tests run the same driver code with the Go
// twins below in place of the assembly, and compare the assembly with the
// twins wherever the CPU has AVX-512 (they passed on an Intel Xeon).

// wideKernel and wideStrided are the 12×32 kernels in use: the assembly
// ones, or (in tests) their Go twins.
var (
	wideKernel  = sgemmKernel12x32AVX512
	wideStrided = sgemmKernelStrided12x32AVX512
)

// sgemmKernel12x32Go is the pure-Go twin of sgemmKernel12x32AVX512: four
// 6×16 tiles.
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
func sgemmKernel12x32Go(k int, a0, a1, b0, b1, c []float32, ldc int, alpha, beta float32) {
	sgemmKernelGo(k, a0, b0, c, ldc, alpha, beta)
	sgemmKernelGo(k, a0, b1, c[nr:], ldc, alpha, beta)
	sgemmKernelGo(k, a1, b0, c[mr*ldc:], ldc, alpha, beta)
	sgemmKernelGo(k, a1, b1, c[mr*ldc+nr:], ldc, alpha, beta)
}

// sgemmKernelStrided12x32Go is the pure-Go twin of
// sgemmKernelStrided12x32AVX512: four 6×16 tiles with A read in place.
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
func sgemmKernelStrided12x32Go(k int, a []float32, rs, cs int, b0, b1, c []float32, ldc, pf int, alpha, beta float32) {
	sgemmKernelStridedGo(k, a, rs, cs, b0, c, ldc, pf, alpha, beta)
	sgemmKernelStridedGo(k, a, rs, cs, b1, c[nr:], ldc, pf, alpha, beta)
	sgemmKernelStridedGo(k, a[mr*rs:], rs, cs, b0, c[mr*ldc:], ldc, pf, alpha, beta)
	sgemmKernelStridedGo(k, a[mr*rs:], rs, cs, b1, c[mr*ldc+nr:], ldc, pf, alpha, beta)
}

// macroKernelWide is macroKernel with 12×32 tiles; the strips left over
// below and to the right go to macroKernel's 6×16 tiles.
func macroKernelWide(mc, nc, kc int, pa, pb []float32, alpha, beta float32, c []float32, ldc int, w *gemmWork) {
	mc2, nc2 := mc/(2*mr)*(2*mr), nc/(2*nr)*(2*nr)
	_ = pa[mc2*kc-1]
	_ = pb[nc2*kc-1]
	_ = c[(mc2-1)*ldc+nc2-1]
	for jr := 0; jr < nc2; jr += 2 * nr {
		for ir := 0; ir < mc2; ir += 2 * mr {
			wideKernel(kc, pa[ir*kc:], pa[(ir+mr)*kc:], pb[jr*kc:], pb[(jr+nr)*kc:], c[ir*ldc+jr:], ldc, alpha, beta)
		}
	}
	if mc2 < mc {
		macroKernel(mc-mc2, nc2, kc, pa[mc2*kc:], pb, alpha, beta, c[mc2*ldc:], ldc, w)
	}
	if nc2 < nc {
		macroKernel(mc, nc-nc2, kc, pa, pb[nc2*kc:], alpha, beta, c[nc2:], ldc, w)
	}
}
