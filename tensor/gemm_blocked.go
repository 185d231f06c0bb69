package tensor

import (
	"sync"
	"unsafe"
)

// The blocked GEMM, in the GotoBLAS/BLIS arrangement: for each nc-wide
// block of columns and kc-deep slice of k, op(B) is packed into nr-column
// panels; the micro-kernel then computes mr×nr tiles of C from an mr-row
// panel of op(A) and one of those B panels.
//
// How op(A) reaches the kernel depends on its layout, as measured on Zen 3:
//
//   - A not transposed (rows of op(A) contiguous): the kernel reads each
//     mr-row panel in place, six streams along k, and the panel meets every
//     B panel of the block while it is hot; meanwhile the kernel prefetches
//     the next panel. Packing A would cost about as much as the arithmetic
//     when n is small (each value of A serves only n multiply-adds), and
//     deep kc slices (long contiguous runs) keep the prefetchers ahead.
//   - A transposed (columns of op(A) contiguous), n > 128: each mc×kc
//     block is packed (an assembly copy, rows of A read front to back), so
//     the kernel does not touch a new cache line and page at every k step.
//   - A transposed, n <= 128 (a convolution's weight gradient): packing
//     would again cost as much as the arithmetic, so the kernel reads A in
//     place, prefetching the line a few k steps ahead.
//
// The sizes below were chosen by measurement on a 2-core Zen 3 (AVX2,
// 32 KiB L1d and 512 KiB L2 per core, 32 MiB L3).

const (
	mr = 6  // rows of the micro-kernel tile
	nr = 16 // columns of the micro-kernel tile
)

// Block sizes. Variables so that tests can shrink them to reach every
// block edge with small matrices.
var (
	// Packed path: a kc×nr B panel (16 KiB) stays in L1, an mc×kc A block
	// (144 KiB) in L2.
	blockKC = 256
	blockMC = 144
	blockNC = 3072
	// In-place path: a kc×nc B block (at most 4 MiB) stays in L3; each
	// kernel call streams a kc×nr panel of it (L2 bandwidth suffices).
	blockKCInPlace = 1024
	blockNCInPlace = 1024
)

// gemmWork is one thread's packing space, reused from call to call.
type gemmWork struct {
	a, b, part []float32
	tile       [mr * nr]float32
}

var (
	workMu   sync.Mutex
	workFree []*gemmWork
)

// getWork returns a gemmWork whose buffers hold at least na, nb and npart
// floats. Buffers only grow, so a steady training loop allocates nothing.
func getWork(na, nb, npart int) *gemmWork {
	workMu.Lock()
	var w *gemmWork
	if n := len(workFree); n > 0 {
		w, workFree = workFree[n-1], workFree[:n-1]
	}
	workMu.Unlock()
	if w == nil {
		w = new(gemmWork)
	}
	w.a = growAligned(w.a, na)
	w.b = growAligned(w.b, nb)
	w.part = growAligned(w.part, npart)
	return w
}

func putWork(w *gemmWork) {
	workMu.Lock()
	workFree = append(workFree, w)
	workMu.Unlock()
}

// growAligned returns s if it holds n floats, else a new 64-byte-aligned
// slice of n floats.
func growAligned(s []float32, n int) []float32 {
	if len(s) >= n {
		return s
	}
	raw := make([]float32, n+16)
	off := int(uintptr(unsafe.Pointer(&raw[0]))%64) / 4
	if off != 0 {
		off = 16 - off
	}
	return raw[off : off+n]
}

// split cuts [0, n) into ceil(n/block) nearly equal pieces, each a
// multiple of unit except perhaps the last, and returns the piece size.
func split(n, block, unit int) int {
	if n <= 0 {
		return unit
	}
	pieces := (n + block - 1) / block
	size := (n + pieces - 1) / pieces
	return (size + unit - 1) / unit * unit
}

// prefetchSteps is how many k steps ahead the in-place kernel prefetches
// a transposed A, where every k step reads a new cache line.
var prefetchSteps = 16

// inPlaceTransMaxN is the widest C for which a transposed A is read in
// place rather than packed.
var inPlaceTransMaxN = 128

// blocks returns the kc, mc and nc that serial uses for an m×n×k part.
func (g *gemmOp) blocks(m, n, k int) (kc, mc, nc int) {
	switch {
	case !g.inPlace(n):
		return split(k, blockKC, 1), split(m, blockMC, mr), split(n, blockNC, nr)
	case g.transA:
		// Every k step reads a new line of A: short slices keep the
		// lines shared by neighbouring panels in cache.
		return split(k, blockKC, 1), mr, split(n, blockNCInPlace, nr)
	}
	return split(k, blockKCInPlace, 1), mr, split(n, blockNCInPlace, nr)
}

// inPlace reports whether serial reads A in place for a part n wide.
func (g *gemmOp) inPlace(n int) bool { return !g.transA || n <= inPlaceTransMaxN }

// bufSizes returns the A and B packing space serial needs for an m×n×k part.
func (g *gemmOp) bufSizes(m, n, k int) (na, nb int) {
	kc, mc, nc := g.blocks(m, n, k)
	return mc * kc, nc * kc
}

// serial computes rows m0..m1 and columns n0..n1 of C over k-range k0..k1
// on one thread, with C's element (m0, n0) at c[0].
func (g *gemmOp) serial(m0, m1, n0, n1, k0, k1 int, beta float32, c []float32, ldc int, w *gemmWork) {
	kcs, mcs, ncs := g.blocks(m1-m0, n1-n0, k1-k0)
	inPlace := g.inPlace(n1 - n0)
	for jc := n0; jc < n1; jc += ncs {
		nc := min(ncs, n1-jc)
		for pc := k0; pc < k1; pc += kcs {
			kc := min(kcs, k1-pc)
			g.packB(w.b, pc, kc, jc, nc)
			bt := beta
			if pc != k0 {
				bt = 1
			}
			if inPlace {
				g.macroInPlace(m0, m1, pc, kc, nc, w.b, bt, c[jc-n0:], ldc, w)
				continue
			}
			for ic := m0; ic < m1; ic += mcs {
				mc := min(mcs, m1-ic)
				g.packA(w.a, ic, mc, pc, kc)
				macroKernel(mc, nc, kc, w.a, w.b, g.alpha, bt, c[(ic-m0)*ldc+jc-n0:], ldc, w)
			}
		}
	}
}

// macroKernel computes the mc×nc block of C at c from packed A and B.
func macroKernel(mc, nc, kc int, pa, pb []float32, alpha, beta float32, c []float32, ldc int, w *gemmWork) {
	if useWide && mc >= 2*mr && nc >= 2*nr {
		macroKernelWide(mc, nc, kc, pa, pb, alpha, beta, c, ldc, w)
		return
	}
	for jr := 0; jr < nc; jr += nr {
		cols := min(nr, nc-jr)
		bp := pb[jr*kc:]
		for ir := 0; ir < mc; ir += mr {
			rows := min(mr, mc-ir)
			ap := pa[ir*kc:]
			if rows == mr && cols == nr {
				microKernel(kc, ap, bp, c[ir*ldc+jr:], ldc, alpha, beta)
				continue
			}
			microKernel(kc, ap, bp, w.tile[:], nr, alpha, 0)
			mergeTile(c[ir*ldc+jr:], ldc, rows, cols, beta, &w.tile)
		}
	}
}

// macroInPlace computes rows m0..m1 of an nc-wide block of C (at c) over
// k-slice pc..pc+kc from packed B, the micro-kernel reading whole mr-row
// panels of A where they lie; only a last partial panel is packed.
func (g *gemmOp) macroInPlace(m0, m1, pc, kc, nc int, pb []float32, beta float32, c []float32, ldc int, w *gemmWork) {
	// The kernel prefetches pf values ahead of each A value it reads: for
	// a transposed A, the line a few k steps on; otherwise the same spot in
	// a row of the next panel, a different row for each B panel, so the
	// next panel is in cache when its turn comes.
	rs, cs, pf := g.lda, 1, 0
	if g.transA {
		rs, cs, pf = 1, g.lda, prefetchSteps*g.lda
	}
	for i := m0; i < m1; {
		ct := c[(i-m0)*ldc:]
		if m1-i < mr {
			g.packA(w.a, i, m1-i, pc, kc)
			macroKernel(m1-i, nc, kc, w.a, pb, g.alpha, beta, ct, ldc, w)
			break
		}
		ap := g.a[i*rs+pc*cs:]
		rows, j0 := mr, 0
		if useWide && m1-i >= 2*mr {
			// Twelve rows at a time, 32 columns per kernel call.
			rows = 2 * mr
			_ = ap[(rows-1)*rs+(kc-1)*cs]
			for ; j0+2*nr <= nc; j0 += 2 * nr {
				if !g.transA {
					pf = (rows + j0/nr%rows) * rs
				}
				wideStrided(kc, ap, rs, cs, pb[j0*kc:], pb[(j0+nr)*kc:], ct[j0:], ldc, pf, g.alpha, beta)
			}
		}
		for h := 0; h < rows; h += mr {
			g.panelInPlace(kc, ap[h*rs:], rs, cs, pf, pb, j0, nc, beta, ct[h*ldc:], ldc, w)
		}
		i += rows
	}
}

// panelInPlace computes columns j0..nc of one mr-row panel of C (at c) with
// A read in place at a.
func (g *gemmOp) panelInPlace(kc int, a []float32, rs, cs, pf int, pb []float32, j0, nc int, beta float32, c []float32, ldc int, w *gemmWork) {
	_ = a[(mr-1)*rs+(kc-1)*cs]
	for jr := j0; jr < nc; jr += nr {
		bp := pb[jr*kc:]
		if !g.transA {
			pf = (mr + jr/nr%mr) * rs
		}
		if nc-jr >= nr {
			stridedKernel(kc, a, rs, cs, bp, c[jr:], ldc, pf, g.alpha, beta)
			continue
		}
		stridedKernel(kc, a, rs, cs, bp, w.tile[:], nr, pf, g.alpha, 0)
		mergeTile(c[jr:], ldc, mr, nc-jr, beta, &w.tile)
	}
}

// mergeTile stores the top-left rows×cols of an edge tile into C.
func mergeTile(c []float32, ldc, rows, cols int, beta float32, tile *[mr * nr]float32) {
	for i := 0; i < rows; i++ {
		dst := c[i*ldc : i*ldc+cols]
		src := tile[i*nr : i*nr+cols]
		if beta == 0 {
			copy(dst, src)
			continue
		}
		for j, v := range src {
			dst[j] = v + beta*dst[j]
		}
	}
}

// microKernel and stridedKernel check that the whole tile and panels lie
// inside their slices, then run the assembly kernel or its Go twin.
func microKernel(k int, a, b, c []float32, ldc int, alpha, beta float32) {
	_ = a[k*mr-1]
	_ = b[k*nr-1]
	_ = c[(mr-1)*ldc+nr-1]
	if useAVX2 {
		sgemmKernelAVX2(k, a, b, c, ldc, alpha, beta)
		return
	}
	sgemmKernelGo(k, a, b, c, ldc, alpha, beta)
}

func stridedKernel(k int, a []float32, rs, cs int, b, c []float32, ldc, pf int, alpha, beta float32) {
	_ = b[k*nr-1]
	_ = c[(mr-1)*ldc+nr-1]
	if useAVX2 {
		sgemmKernelStridedAVX2(k, a, rs, cs, b, c, ldc, pf, alpha, beta)
		return
	}
	sgemmKernelStridedGo(k, a, rs, cs, b, c, ldc, pf, alpha, beta)
}
