package tensor

import (
	"sync"
	"unsafe"
)

// The blocked GEMM, in the GotoBLAS/BLIS arrangement: for each nc-wide
// block of columns and kc-deep slice of k, op(B) is packed into nr-column
// panels (meant to stay in L3, one panel in L1); for each mc-tall block of
// rows op(A) is packed into mr-row panels (meant to stay in L2); the
// micro-kernel then computes mr×nr tiles of C from one panel of each.

const (
	mr = 6  // rows of the micro-kernel tile
	nr = 16 // columns of the micro-kernel tile
)

// Block sizes, tuned on a Zen 3 core (32 KiB L1d, 512 KiB L2): a kc×nr B
// panel (16 KiB) stays in L1, an mc×kc A block (144 KiB) in L2. Variables so
// tests can shrink them to reach every block edge with small matrices.
var (
	blockKC = 256
	blockMC = 144
	blockNC = 3072
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
	pieces := (n + block - 1) / block
	size := (n + pieces - 1) / pieces
	return (size + unit - 1) / unit * unit
}

// serial computes rows m0..m1 and columns n0..n1 of C over k-range k0..k1
// on one thread, with C's element (m0, n0) at c[0].
func (g *gemmOp) serial(m0, m1, n0, n1, k0, k1 int, beta float32, c []float32, ldc int, w *gemmWork) {
	kcs := split(k1-k0, blockKC, 1)
	mcs := split(m1-m0, blockMC, mr)
	ncs := split(n1-n0, blockNC, nr)
	for jc := n0; jc < n1; jc += ncs {
		nc := min(ncs, n1-jc)
		for pc := k0; pc < k1; pc += kcs {
			kc := min(kcs, k1-pc)
			g.packB(w.b, pc, kc, jc, nc)
			bt := beta
			if pc != k0 {
				bt = 1
			}
			for ic := m0; ic < m1; ic += mcs {
				mc := min(mcs, m1-ic)
				g.packA(w.a, ic, mc, pc, kc)
				macroKernel(mc, nc, kc, w.a, w.b, bt, c[(ic-m0)*ldc+jc-n0:], ldc, w)
			}
		}
	}
}

// macroKernel computes the mc×nc block of C at c from packed A and B.
func macroKernel(mc, nc, kc int, pa, pb []float32, beta float32, c []float32, ldc int, w *gemmWork) {
	for jr := 0; jr < nc; jr += nr {
		cols := min(nr, nc-jr)
		bp := pb[jr*kc:]
		for ir := 0; ir < mc; ir += mr {
			rows := min(mr, mc-ir)
			ap := pa[ir*kc:]
			if rows == mr && cols == nr {
				microKernel(kc, ap, bp, c[ir*ldc+jr:], ldc, beta)
				continue
			}
			microKernel(kc, ap, bp, w.tile[:], nr, 0)
			for i := 0; i < rows; i++ {
				dst := c[(ir+i)*ldc+jr : (ir+i)*ldc+jr+cols]
				src := w.tile[i*nr : i*nr+cols]
				if beta == 0 {
					copy(dst, src)
					continue
				}
				for j, v := range src {
					dst[j] = v + beta*dst[j]
				}
			}
		}
	}
}

func microKernel(k int, a, b, c []float32, ldc int, beta float32) {
	if useAVX2 {
		sgemmKernelAVX2(k, a, b, c, ldc, beta)
		return
	}
	sgemmKernelGo(k, a, b, c, ldc, beta)
}
