package tensor

// small computes C for problems too small to repay packing: row by row,
// with the vector kernels where op(A) or op(B) gives contiguous runs.
func (g *gemmOp) small(m, n, k int, beta float32, c []float32, ldc int) {
	a, b, lda, ldb, alpha := g.a, g.b, g.lda, g.ldb, g.alpha
	for i := 0; i < m; i++ {
		row := c[i*ldc : i*ldc+n]
		if g.transB {
			for j := range row {
				var s float32
				if g.transA {
					for p := 0; p < k; p++ {
						s += a[p*lda+i] * b[j*ldb+p]
					}
				} else {
					s = Dot(a[i*lda:i*lda+k], b[j*ldb:j*ldb+k])
				}
				if beta == 0 {
					row[j] = alpha * s
				} else {
					row[j] = alpha*s + beta*row[j]
				}
			}
			continue
		}
		switch beta {
		case 0:
			clear(row)
		case 1:
		default:
			Scale(beta, row)
		}
		for p := 0; p < k; p++ {
			var av float32
			if g.transA {
				av = a[p*lda+i]
			} else {
				av = a[i*lda+p]
			}
			axpy(alpha*av, b[p*ldb:p*ldb+n], row)
		}
	}
}

// gemv computes C for n == 1 when rows of A and the column of op(B) are
// both contiguous: one dot product per row of C, rows spread over threads.
// (A micro-kernel tile would waste 15 of its 16 columns here.)
// Only this path allocates (its closure), once per call.
func (g *gemmOp) gemv(m, k int, beta float32, c []float32, ldc int) {
	a, lda, alpha, x := g.a, g.lda, g.alpha, g.b[:k]
	Parallel(m, max(1, parallelFlops/max(k, 1)), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			s := alpha * Dot(a[i*lda:i*lda+k], x)
			if beta != 0 {
				s += beta * c[i*ldc]
			}
			c[i*ldc] = s
		}
	})
}

// transposeFirst reports whether a product with a transposed A is faster
// computed as its transpose: with few rows and many columns (a
// convolution's weight gradient in PyTorch's [out, in] layout, dYᵀ·col),
// the direct product packs the wide B, whose values then serve only m
// multiply-adds each, while Cᵀ = Bᵀ·A reads that matrix in place. A long k
// makes the final transposition of C negligible.
func transposeFirst(m, n, k int) bool {
	return m <= inPlaceTransMaxN && n > inPlaceTransMaxN && k >= 1024
}

// transposed computes C = alpha*Aᵀ*B + beta*C (A and B as stored) as
// Cᵀ = alpha*Bᵀ*A into scratch space, then adds the transpose into C.
func (g *gemmOp) transposed(m, n, k int, beta float32, c []float32, ldc int) {
	t := getWork(0, 0, n*m)
	ct := t.part[:n*m]
	g2 := gemmOp{transA: true, alpha: g.alpha, a: g.b, lda: g.ldb, b: g.a, ldb: g.lda}
	g2.blocked(n, m, k, 0, ct, m)
	for i := 0; i < m; i++ {
		row := c[i*ldc : i*ldc+n]
		if beta == 0 {
			for j := range row {
				row[j] = ct[j*m+i]
			}
			continue
		}
		for j := range row {
			row[j] = ct[j*m+i] + beta*row[j]
		}
	}
	putWork(t)
}
