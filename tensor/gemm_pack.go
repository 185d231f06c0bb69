package tensor

// Packing copies a block of op(A) or op(B) into the order the micro-kernel
// reads it, taking care of transposes and alpha, and pads edge panels with
// zeros so the kernel always computes whole mr×nr tiles.

// packA packs rows ic..ic+mc and columns pc..pc+kc of op(A), times alpha,
// into dst as ceil(mc/mr) panels; panel q holds dst[q*kc*mr + p*mr + r] =
// alpha*op(A)[ic+q*mr+r][pc+p].
func (g *gemmOp) packA(dst []float32, ic, mc, pc, kc int) {
	a, lda, alpha := g.a, g.lda, g.alpha
	for q := 0; q*mr < mc; q++ {
		d := dst[q*kc*mr : (q+1)*kc*mr]
		i0 := ic + q*mr
		rows := min(mr, mc-q*mr)
		if g.transA {
			// op(A)[i][p] = a[p*lda+i]: mr contiguous values per p.
			if rows == mr {
				for p := 0; p < kc; p++ {
					s := a[(pc+p)*lda+i0 : (pc+p)*lda+i0+mr : (pc+p)*lda+i0+mr]
					o := d[p*mr : p*mr+mr : p*mr+mr]
					o[0], o[1], o[2] = alpha*s[0], alpha*s[1], alpha*s[2]
					o[3], o[4], o[5] = alpha*s[3], alpha*s[4], alpha*s[5]
				}
				continue
			}
			for p := 0; p < kc; p++ {
				s := a[(pc+p)*lda+i0 : (pc+p)*lda+i0+rows]
				o := d[p*mr : p*mr+mr]
				for r := range o {
					if r < rows {
						o[r] = alpha * s[r]
					} else {
						o[r] = 0
					}
				}
			}
			continue
		}
		// op(A)[i][p] = a[i*lda+p]: rows are contiguous; interleave them.
		for r := 0; r < mr; r++ {
			if r >= rows {
				for p := 0; p < kc; p++ {
					d[p*mr+r] = 0
				}
				continue
			}
			s := a[(i0+r)*lda+pc : (i0+r)*lda+pc+kc]
			if alpha == 1 {
				for p, v := range s {
					d[p*mr+r] = v
				}
			} else {
				for p, v := range s {
					d[p*mr+r] = alpha * v
				}
			}
		}
	}
}

// packB packs rows pc..pc+kc and columns jc..jc+nc of op(B) into dst as
// ceil(nc/nr) panels; panel q holds dst[q*kc*nr + p*nr + j] =
// op(B)[pc+p][jc+q*nr+j].
func (g *gemmOp) packB(dst []float32, pc, kc, jc, nc int) {
	b, ldb := g.b, g.ldb
	for q := 0; q*nr < nc; q++ {
		d := dst[q*kc*nr : (q+1)*kc*nr]
		j0 := jc + q*nr
		cols := min(nr, nc-q*nr)
		if !g.transB {
			// op(B)[p][j] = b[p*ldb+j]: nr contiguous values per p.
			for p := 0; p < kc; p++ {
				o := d[p*nr : p*nr+nr : p*nr+nr]
				n := copy(o, b[(pc+p)*ldb+j0:(pc+p)*ldb+j0+cols])
				clear(o[n:])
			}
			continue
		}
		// op(B)[p][j] = b[j*ldb+p]: columns of op(B) are contiguous.
		for j := 0; j < nr; j++ {
			if j >= cols {
				for p := 0; p < kc; p++ {
					d[p*nr+j] = 0
				}
				continue
			}
			s := b[(j0+j)*ldb+pc : (j0+j)*ldb+pc+kc]
			for p, v := range s {
				d[p*nr+j] = v
			}
		}
	}
}
