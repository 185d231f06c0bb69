package tensor

// Packing copies a block of op(A) or op(B) into the order the micro-kernel
// reads it, taking care of transposes, and pads edge panels with zeros so
// the kernel always computes whole mr×nr tiles. (alpha is applied by the
// kernel, when it stores C.)

// packA packs rows ic..ic+mc and columns pc..pc+kc of op(A) into dst as
// ceil(mc/mr) panels; panel q holds dst[q*kc*mr + p*mr + r] =
// op(A)[ic+q*mr+r][pc+p].
func (g *gemmOp) packA(dst []float32, ic, mc, pc, kc int) {
	a, lda := g.a, g.lda
	full := 0
	if g.transA {
		// op(A)[i][p] = a[p*lda+i]: whole panels go row by row of a.
		full = mc / mr
		if full > 0 {
			packATrans(dst, a[pc*lda+ic:], lda, kc, full)
		}
	}
	for q := full; q*mr < mc; q++ {
		d := dst[q*kc*mr : (q+1)*kc*mr]
		i0 := ic + q*mr
		rows := min(mr, mc-q*mr)
		if g.transA {
			for p := 0; p < kc; p++ {
				o := d[p*mr : p*mr+mr]
				clear(o[copy(o, a[(pc+p)*lda+i0:(pc+p)*lda+i0+rows]):])
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
			for p, v := range a[(i0+r)*lda+pc : (i0+r)*lda+pc+kc] {
				d[p*mr+r] = v
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
			if cols == nr {
				packB16(d, b[pc*ldb+j0:], ldb, kc)
				continue
			}
			for p := 0; p < kc; p++ {
				o := d[p*nr : p*nr+nr]
				clear(o[copy(o, b[(pc+p)*ldb+j0:(pc+p)*ldb+j0+cols]):])
			}
			continue
		}
		// op(B)[p][j] = b[j*ldb+p]: columns of op(B) are contiguous.
		if cols == nr {
			packBTrans(d, b[j0*ldb+pc:], ldb, kc)
			continue
		}
		for j := 0; j < nr; j++ {
			if j >= cols {
				for p := 0; p < kc; p++ {
					d[p*nr+j] = 0
				}
				continue
			}
			for p, v := range b[(j0+j)*ldb+pc : (j0+j)*ldb+pc+kc] {
				d[p*nr+j] = v
			}
		}
	}
}

func packATrans(dst, a []float32, lda, kc, panels int) {
	_ = dst[panels*kc*mr-1]
	_ = a[(kc-1)*lda+panels*mr-1]
	if useAVX2 {
		packATransAVX2(dst, a, lda, kc, panels)
		return
	}
	packATransGo(dst, a, lda, kc, panels)
}

func packB16(dst, b []float32, ldb, kc int) {
	_ = dst[kc*nr-1]
	_ = b[(kc-1)*ldb+nr-1]
	if useAVX2 {
		packB16AVX2(dst, b, ldb, kc)
		return
	}
	packB16Go(dst, b, ldb, kc)
}

// packATransGo is the pure-Go twin of packATransAVX2.
//
//	for p := 0; p < kc; p++ {
//		for q := 0; q < panels; q++ {
//			copy(dst[q*kc*6+p*6:q*kc*6+p*6+6], a[p*lda+q*6:p*lda+q*6+6])
//		}
//	}
func packATransGo(dst, a []float32, lda, kc, panels int) {
	for p := 0; p < kc; p++ {
		row := a[p*lda : p*lda+panels*mr]
		for q := 0; q < panels; q++ {
			s := row[q*mr : q*mr+mr : q*mr+mr]
			o := dst[q*kc*mr+p*mr : q*kc*mr+p*mr+mr : q*kc*mr+p*mr+mr]
			o[0], o[1], o[2], o[3], o[4], o[5] = s[0], s[1], s[2], s[3], s[4], s[5]
		}
	}
}

// packB16Go is the pure-Go twin of packB16AVX2.
//
//	for p := 0; p < kc; p++ { copy(dst[p*16:p*16+16], b[p*ldb:p*ldb+16]) }
func packB16Go(dst, b []float32, ldb, kc int) {
	for p := 0; p < kc; p++ {
		copy(dst[p*nr:p*nr+nr], b[p*ldb:p*ldb+nr])
	}
}

// packBTrans packs a full panel of a transposed B, eight k steps at a
// time in assembly and the rest in Go.
func packBTrans(dst, b []float32, ldb, kc int) {
	_ = dst[kc*nr-1]
	_ = b[(nr-1)*ldb+kc-1]
	k8 := 0
	if useAVX2 {
		k8 = kc &^ 7
		packBTransAVX2(dst, b, ldb, k8)
	}
	for j := 0; j < nr; j++ {
		for p, v := range b[j*ldb+k8 : j*ldb+kc] {
			dst[(k8+p)*nr+j] = v
		}
	}
}

// packBTransGo is the pure-Go twin of packBTransAVX2.
//
//	for p := 0; p < kc; p++ {
//		for j := 0; j < 16; j++ {
//			dst[p*16+j] = b[j*ldb+p]
//		}
//	}
func packBTransGo(dst, b []float32, ldb, kc int) {
	for j := 0; j < nr; j++ {
		for p, v := range b[j*ldb : j*ldb+kc] {
			dst[p*nr+j] = v
		}
	}
}
