package tensor_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/deepscope/deepscope/tensor"
)

// gemmGuard is the width of the NaN bands around every test slice.
const gemmGuard = 19

// gemmMatrix returns a rows×cols matrix with row stride ld (the padding
// filled with NaN) inside NaN guard bands: all is the whole allocation and
// data the part handed to Gemm.
func gemmMatrix(rng *rand.Rand, rows, cols, ld int, fill bool) (all, data []float32) {
	n := 0
	if rows > 0 {
		n = (rows-1)*ld + cols
	}
	all = make([]float32, n+2*gemmGuard)
	for i := range all {
		all[i] = float32(math.NaN())
	}
	data = all[gemmGuard : gemmGuard+n]
	if fill {
		for r := 0; r < rows; r++ {
			for c := 0; c < cols; c++ {
				data[r*ld+c] = rng.Float32()*2 - 1
			}
		}
	}
	return all, data
}

type gemmCase struct {
	m, n, k     int
	alpha, beta float32
	pad         int // extra row stride on A, B and C
}

func (c gemmCase) String() string {
	return fmt.Sprintf("%dx%dx%d/a=%g/b=%g/pad=%d", c.m, c.n, c.k, c.alpha, c.beta, c.pad)
}

// checkGemmCase runs Gemm on one case for every transpose combination and
// compares it with GemmRef, element by element within a bound on float32
// rounding that holds for any summation order, and checks that no element
// outside C (guard bands, row padding) changed.
func checkGemmCase(t *testing.T, rng *rand.Rand, tc gemmCase) {
	t.Helper()
	for _, tr := range [][2]bool{{false, false}, {false, true}, {true, false}, {true, true}} {
		tA, tB := tr[0], tr[1]
		ar, ac := tc.m, tc.k
		if tA {
			ar, ac = tc.k, tc.m
		}
		br, bc := tc.k, tc.n
		if tB {
			br, bc = tc.n, tc.k
		}
		lda, ldb, ldc := max(ac, 1)+tc.pad, max(bc, 1)+tc.pad, tc.n+tc.pad
		_, a := gemmMatrix(rng, ar, ac, lda, true)
		_, b := gemmMatrix(rng, br, bc, ldb, true)
		callC, c := gemmMatrix(rng, tc.m, tc.n, ldc, tc.beta != 0)
		want := append([]float32(nil), c...)
		tensor.GemmRef(tA, tB, 0, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, want, ldc)
		before := append([]float32(nil), callC...)
		tensor.Gemm(tA, tB, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, c, ldc)

		name := fmt.Sprintf("%v transA=%v transB=%v", tc, tA, tB)
		bad := 0
		for i := 0; i < tc.m; i++ {
			for j := 0; j < tc.n; j++ {
				// Bound: (k+2) roundings of the magnitude sum |alpha|·Σ|a||b| + |beta c|.
				var mag float64
				for p := 0; p < tc.k; p++ {
					var av, bv float32
					if tA {
						av = a[p*lda+i]
					} else {
						av = a[i*lda+p]
					}
					if tB {
						bv = b[j*ldb+p]
					} else {
						bv = b[p*ldb+j]
					}
					mag += math.Abs(float64(av) * float64(bv))
				}
				mag *= math.Abs(float64(tc.alpha))
				if tc.beta != 0 {
					mag += math.Abs(float64(tc.beta) * float64(before[gemmGuard+i*ldc+j]))
				}
				tol := 2*float64(tc.k+2)*0x1p-24*mag + 1e-30
				got, exp := c[i*ldc+j], want[i*ldc+j]
				if math.IsNaN(float64(got)) || math.Abs(float64(got-exp)) > tol {
					if bad < 3 {
						t.Errorf("%s: C[%d,%d] = %g, want %g (tol %g)", name, i, j, got, exp, tol)
					}
					bad++
				}
			}
		}
		// Everything outside the m×n window of C must be untouched.
		for idx := range callC {
			off := idx - gemmGuard
			inside := off >= 0 && off < len(c) && off%ldc < tc.n
			if !inside && !math.IsNaN(float64(callC[idx])) {
				t.Errorf("%s: wrote %g outside C at offset %d", name, callC[idx], off)
				break
			}
		}
		if bad > 3 {
			t.Errorf("%s: %d elements wrong in all", name, bad)
		}
	}
}

var gemmShapes = []gemmCase{
	{1, 1, 1, 1, 0, 0},
	{1, 1, 1, 2, 0.5, 3},
	{7, 13, 5, 1, 0, 0},
	{7, 13, 5, -0.5, 1, 2},
	{6, 16, 1, 1, 0, 0},
	{6, 16, 64, 1, 1, 0},
	{13, 1, 40, 1, 0, 1},
	{1, 40, 13, 1, 0, 1},
	{97, 33, 129, 1, 0, 0},
	{97, 33, 129, 0.25, -2, 5},
	{145, 40, 300, 1, 0, 3},  // crosses MC=144 and KC=256
	{12, 70, 600, 1, 0.5, 0}, // long k
	{30, 20, 2000, 1, 0, 0},  // split along k
	{4, 600, 500, 1, 1, 1},   // split along n
	{300, 48, 80, 1, 0, 0},   // split along m
	{5, 7, 0, 1, 0, 0},       // k = 0: C = beta*C
	{5, 7, 0, 1, 2, 1},
	{20, 30, 40, 0, 3, 0},   // alpha = 0
	{3000, 1, 300, 1, 0, 0}, // matrix-vector
	{300, 1, 70, 2, 0.5, 1}, // matrix-vector, strided column of B
	{1, 500, 300, 1, 0, 0},  // vector-matrix
	{1, 300, 20, 1, 1, 2},
}

// gemmConfigs are the kernel choices every shape is checked under: the
// assembly kernels (with a transposed A read in place or packed, as chosen
// by size, always packed, always in place), the Go twins, and the 12×32
// path (AVX-512 where the CPU has it, else the Go twins of its kernels).
var gemmConfigs = []struct {
	name         string
	asm, wide    bool
	transInPlace int // widest C with a transposed A read in place; -1: default
}{
	{"asm", true, false, -1},
	{"asm/trans-packed", true, false, 0},
	{"asm/trans-in-place", true, false, 1 << 30},
	{"go", false, false, -1},
	{"wide", true, true, -1},
	{"wide/trans-packed", true, true, 0},
}

// withGemmConfig sets up cfg for the duration of f.
func withGemmConfig(cfg struct {
	name         string
	asm, wide    bool
	transInPlace int
}, f func()) {
	defer tensor.UseAVX2(cfg.asm)()
	defer tensor.UseWide(cfg.wide)()
	if cfg.transInPlace >= 0 {
		defer tensor.SetInPlaceTrans(cfg.transInPlace, 16)()
	}
	f()
}

// TestGemmMatchesRef runs the shape table on 1 and 2 threads under every
// kernel configuration.
func TestGemmMatchesRef(t *testing.T) {
	defer tensor.SetThreads(tensor.Threads())
	for _, threads := range []int{1, 2} {
		for _, cfg := range gemmConfigs {
			t.Run(fmt.Sprintf("threads=%d/%s", threads, cfg.name), func(t *testing.T) {
				tensor.SetThreads(threads)
				withGemmConfig(cfg, func() {
					rng := rand.New(rand.NewPCG(1, 2))
					for _, tc := range gemmShapes {
						checkGemmCase(t, rng, tc)
					}
				})
			})
		}
	}
}

// TestGemmBlockEdges shrinks the cache blocks so that small matrices cross
// every block boundary (kc, mc, nc, and the mr×nr tile edges) several times.
func TestGemmBlockEdges(t *testing.T) {
	defer tensor.SetBlocking(7, 12, 32, 9, 32)()
	defer tensor.SetThreads(tensor.Threads())
	rng := rand.New(rand.NewPCG(3, 4))
	for _, threads := range []int{1, 2} {
		tensor.SetThreads(threads)
		for _, cfg := range gemmConfigs {
			withGemmConfig(cfg, func() {
				for _, tc := range []gemmCase{
					{50, 70, 45, 1, 0, 0},
					{49, 81, 22, 1.5, 0.5, 3},
					{13, 33, 8, 1, 1, 0},
					{61, 95, 190, 1, 0, 1}, // parallel: 1.1M multiply-adds
					{24, 24, 900, -1, 0, 0},
				} {
					checkGemmCase(t, rng, tc)
				}
			})
		}
	}
}

func TestGemmSplits(t *testing.T) {
	for _, tc := range []struct {
		m, n, k, t int
		want       string
	}{
		{100352, 64, 576, 2, "m"}, // conv forward, layer1
		{2048, 512, 4608, 2, "m"}, // conv forward, layer4
		{576, 64, 100352, 2, "k"}, // weight gradient, layer1
		{4608, 512, 2048, 2, "m"}, // weight gradient, layer4
		{100352, 576, 64, 2, "m"}, // input gradient, layer1
		{2048, 4608, 512, 2, "n"}, // input gradient, layer4: packing all of B twice costs more
		{4, 600, 500, 2, "n"},     // few rows (as in gemmShapes)
		{30, 20, 2000, 2, "k"},
		{300, 48, 80, 2, "m"},
		{1024, 1024, 1024, 1, "none"},
		{10, 10, 10, 2, "none"}, // too small to share
		{64, 64, 64, 2, "none"},
	} {
		if got := tensor.Split(tc.m, tc.n, tc.k, tc.t); got != tc.want {
			t.Errorf("Split(%d, %d, %d, %d) = %s, want %s", tc.m, tc.n, tc.k, tc.t, got, tc.want)
		}
	}
}

func TestGemmPanics(t *testing.T) {
	a := make([]float32, 12)
	for _, tc := range []struct {
		name string
		f    func()
	}{
		{"negative", func() { tensor.Gemm(false, false, -1, 2, 2, 1, a, 2, a, 2, 0, a, 2) }},
		{"small lda", func() { tensor.Gemm(false, false, 2, 2, 3, 1, a, 2, a, 2, 0, a, 2) }},
		{"short A", func() { tensor.Gemm(false, false, 4, 2, 4, 1, a, 4, a, 2, 0, a, 2) }},
		{"short C", func() { tensor.Gemm(false, false, 2, 7, 1, 1, a, 1, a, 7, 0, a, 7) }},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: Gemm did not panic", tc.name)
				}
			}()
			tc.f()
		}()
	}
}

// TestGemmAllocs checks that a steady stream of same-shaped calls
// allocates nothing once the packing buffers exist.
func TestGemmAllocs(t *testing.T) {
	defer tensor.SetThreads(tensor.Threads())
	tensor.SetThreads(2)
	m, n, k := 200, 100, 150
	a, b, c := make([]float32, m*k), make([]float32, k*n), make([]float32, m*n)
	for _, tr := range []bool{false, true} {
		lda, ldb := k, n
		if tr {
			lda, ldb = m, k
		}
		f := func() { tensor.Gemm(tr, tr, m, n, k, 1, a, lda, b, ldb, 0, c, n) }
		f()
		if allocs := testing.AllocsPerRun(20, f); allocs > 0.5 {
			t.Errorf("transposed=%v: %v allocations per Gemm", tr, allocs)
		}
	}
}

// TestGemmNegativeZeroBeta checks that beta = -0 counts as 0: C is not
// read, so NaNs in it do not come through.
func TestGemmNegativeZeroBeta(t *testing.T) {
	negZero := float32(math.Copysign(0, -1))
	for _, size := range []int{5, 40} { // the small path and the blocked one
		a, b, c := make([]float32, size*size), make([]float32, size*size), make([]float32, size*size)
		for i := range a {
			a[i], b[i], c[i] = 1, 1, float32(math.NaN())
		}
		tensor.Gemm(false, false, size, size, size, 1, a, size, b, size, negZero, c, size)
		for i, v := range c {
			if v != float32(size) {
				t.Fatalf("size %d: C[%d] = %g, want %d", size, i, v, size)
			}
		}
	}
}
