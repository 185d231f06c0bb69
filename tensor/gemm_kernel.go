package tensor

// sgemmKernelGo is the pure-Go twin of sgemmKernelAVX2: one 6×16 tile of C
// from packed panels (a: k groups of 6, b: k groups of 16):
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
// It works on four columns at a time so that the 24 sums stay in registers
// on machines with enough of them.
func sgemmKernelGo(k int, a, b, c []float32, ldc int, alpha, beta float32) {
	a = a[:k*mr]
	b = b[:k*nr]
	_ = c[5*ldc+15]
	for jq := 0; jq < nr; jq += 4 {
		var c00, c01, c02, c03, c10, c11, c12, c13, c20, c21, c22, c23, c30, c31, c32, c33, c40, c41, c42, c43, c50, c51, c52, c53 float32
		for p := 0; p < k; p++ {
			ap := a[p*mr : p*mr+mr : p*mr+mr]
			bp := b[p*nr+jq : p*nr+jq+4 : p*nr+jq+4]
			b0, b1, b2, b3 := bp[0], bp[1], bp[2], bp[3]
			a0 := ap[0]
			c00 += a0 * b0
			c01 += a0 * b1
			c02 += a0 * b2
			c03 += a0 * b3
			a1 := ap[1]
			c10 += a1 * b0
			c11 += a1 * b1
			c12 += a1 * b2
			c13 += a1 * b3
			a2 := ap[2]
			c20 += a2 * b0
			c21 += a2 * b1
			c22 += a2 * b2
			c23 += a2 * b3
			a3 := ap[3]
			c30 += a3 * b0
			c31 += a3 * b1
			c32 += a3 * b2
			c33 += a3 * b3
			a4 := ap[4]
			c40 += a4 * b0
			c41 += a4 * b1
			c42 += a4 * b2
			c43 += a4 * b3
			a5 := ap[5]
			c50 += a5 * b0
			c51 += a5 * b1
			c52 += a5 * b2
			c53 += a5 * b3
		}
		storeQuad(c[0*ldc+jq:0*ldc+jq+4], alpha, beta, c00, c01, c02, c03)
		storeQuad(c[1*ldc+jq:1*ldc+jq+4], alpha, beta, c10, c11, c12, c13)
		storeQuad(c[2*ldc+jq:2*ldc+jq+4], alpha, beta, c20, c21, c22, c23)
		storeQuad(c[3*ldc+jq:3*ldc+jq+4], alpha, beta, c30, c31, c32, c33)
		storeQuad(c[4*ldc+jq:4*ldc+jq+4], alpha, beta, c40, c41, c42, c43)
		storeQuad(c[5*ldc+jq:5*ldc+jq+4], alpha, beta, c50, c51, c52, c53)
	}
}

func storeQuad(c []float32, alpha, beta float32, s0, s1, s2, s3 float32) {
	c = c[:4]
	s0, s1, s2, s3 = alpha*s0, alpha*s1, alpha*s2, alpha*s3
	if beta == 0 {
		c[0], c[1], c[2], c[3] = s0, s1, s2, s3
		return
	}
	c[0] = s0 + beta*c[0]
	c[1] = s1 + beta*c[1]
	c[2] = s2 + beta*c[2]
	c[3] = s3 + beta*c[3]
}

// sgemmKernelStridedGo is the pure-Go twin of sgemmKernelStridedAVX2: the
// 6×16 tile with the A panel read in place, element (i, p) at a[i*rs+p*cs]:
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
func sgemmKernelStridedGo(k int, a []float32, rs, cs int, b, c []float32, ldc, pf int, alpha, beta float32) {
	b = b[:k*nr]
	_ = c[5*ldc+15]
	for jq := 0; jq < nr; jq += 4 {
		var c00, c01, c02, c03, c10, c11, c12, c13, c20, c21, c22, c23, c30, c31, c32, c33, c40, c41, c42, c43, c50, c51, c52, c53 float32
		for p := 0; p < k; p++ {
			bp := b[p*nr+jq : p*nr+jq+4 : p*nr+jq+4]
			b0, b1, b2, b3 := bp[0], bp[1], bp[2], bp[3]
			o := p * cs
			a0 := a[o]
			c00 += a0 * b0
			c01 += a0 * b1
			c02 += a0 * b2
			c03 += a0 * b3
			a1 := a[o+1*rs]
			c10 += a1 * b0
			c11 += a1 * b1
			c12 += a1 * b2
			c13 += a1 * b3
			a2 := a[o+2*rs]
			c20 += a2 * b0
			c21 += a2 * b1
			c22 += a2 * b2
			c23 += a2 * b3
			a3 := a[o+3*rs]
			c30 += a3 * b0
			c31 += a3 * b1
			c32 += a3 * b2
			c33 += a3 * b3
			a4 := a[o+4*rs]
			c40 += a4 * b0
			c41 += a4 * b1
			c42 += a4 * b2
			c43 += a4 * b3
			a5 := a[o+5*rs]
			c50 += a5 * b0
			c51 += a5 * b1
			c52 += a5 * b2
			c53 += a5 * b3
		}
		storeQuad(c[0*ldc+jq:0*ldc+jq+4], alpha, beta, c00, c01, c02, c03)
		storeQuad(c[1*ldc+jq:1*ldc+jq+4], alpha, beta, c10, c11, c12, c13)
		storeQuad(c[2*ldc+jq:2*ldc+jq+4], alpha, beta, c20, c21, c22, c23)
		storeQuad(c[3*ldc+jq:3*ldc+jq+4], alpha, beta, c30, c31, c32, c33)
		storeQuad(c[4*ldc+jq:4*ldc+jq+4], alpha, beta, c40, c41, c42, c43)
		storeQuad(c[5*ldc+jq:5*ldc+jq+4], alpha, beta, c50, c51, c52, c53)
	}
}
