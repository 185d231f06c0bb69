package tensor

import "fmt"

// Gemm computes C = alpha*op(A)*op(B) + beta*C for row-major matrices, where
// op(X) is X or its transpose. op(A) is m×k, op(B) is k×n and C is m×n; lda,
// ldb and ldc are the row strides of A, B and C as stored. When beta is 0, C
// is overwritten without being read (NaNs in C do not propagate), as in BLAS.
// The work is spread over Threads() threads.
func Gemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	checkGemm(transA, transB, m, n, k, a, lda, b, ldb, c, ldc)
	if m == 0 || n == 0 {
		return
	}
	if beta == 0 {
		beta = 0 // -0 becomes +0: the kernels test the bits of beta
	}
	if k == 0 || alpha == 0 {
		scaleC(m, n, beta, c, ldc)
		return
	}
	g := gemmOp{transA: transA, transB: transB, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb}
	switch {
	case m*n*k < smallGemm || m == 1 && !transB:
		g.small(m, n, k, beta, c, ldc)
		return
	case n == 1 && !transA && (transB || ldb == 1):
		g.gemv(m, k, beta, c, ldc)
		return
	case transA && !transB && transposeFirst(m, n, k):
		g.transposed(m, n, k, beta, c, ldc)
		return
	}
	g.blocked(m, n, k, beta, c, ldc)
}

// smallGemm is the size m*n*k below which Gemm skips packing.
const smallGemm = 1 << 13

// gemmOp holds the operands of one Gemm call, C aside.
type gemmOp struct {
	transA, transB bool
	alpha          float32
	a, b           []float32
	lda, ldb       int
}

// scaleC sets C = beta*C, or zeroes C when beta is 0.
func scaleC(m, n int, beta float32, c []float32, ldc int) {
	for i := 0; i < m; i++ {
		row := c[i*ldc : i*ldc+n]
		switch beta {
		case 0:
			clear(row)
		case 1:
		default:
			Scale(beta, row)
		}
	}
}

// gemmRef is the plain triple loop over rows lo..hi of C: the reference
// every faster GEMM is tested against.
func gemmRef(transA, transB bool, lo, hi, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	for i := lo; i < hi; i++ {
		for j := 0; j < n; j++ {
			var s float32
			for p := 0; p < k; p++ {
				var av, bv float32
				if transA {
					av = a[p*lda+i]
				} else {
					av = a[i*lda+p]
				}
				if transB {
					bv = b[j*ldb+p]
				} else {
					bv = b[p*ldb+j]
				}
				s += av * bv
			}
			if beta == 0 {
				c[i*ldc+j] = alpha * s
			} else {
				c[i*ldc+j] = alpha*s + beta*c[i*ldc+j]
			}
		}
	}
}

func checkGemm(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	ar, ac := m, k
	if transA {
		ar, ac = k, m
	}
	br, bc := k, n
	if transB {
		br, bc = n, k
	}
	switch {
	case m < 0 || n < 0 || k < 0:
		panic(fmt.Sprintf("tensor: Gemm with negative size m=%d n=%d k=%d", m, n, k))
	case lda < max(ac, 1) || ldb < max(bc, 1) || ldc < max(n, 1):
		panic(fmt.Sprintf("tensor: Gemm leading dimensions lda=%d ldb=%d ldc=%d too small", lda, ldb, ldc))
	case ar > 0 && len(a) < (ar-1)*lda+ac:
		panic("tensor: Gemm: A is too short")
	case br > 0 && len(b) < (br-1)*ldb+bc:
		panic("tensor: Gemm: B is too short")
	case m > 0 && len(c) < (m-1)*ldc+n:
		panic("tensor: Gemm: C is too short")
	}
}
