package tensor_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/deepscope/deepscope/tensor"
)

// vecGuarded returns n random values inside NaN guard bands.
func vecGuarded(rng *rand.Rand, n int) (all, inner []float32) {
	all = make([]float32, n+2*gemmGuard)
	for i := range all {
		all[i] = float32(math.NaN())
	}
	inner = all[gemmGuard : gemmGuard+n]
	for i := range inner {
		inner[i] = rng.Float32()*2 - 1
	}
	return all, inner
}

// vecGuardsIntact reports whether the guard bands of all are still NaN.
func vecGuardsIntact(all []float32) bool {
	for i := 0; i < gemmGuard; i++ {
		if !math.IsNaN(float64(all[i])) || !math.IsNaN(float64(all[len(all)-1-i])) {
			return false
		}
	}
	return true
}

func closeTo(got, want, tol float32) bool {
	return math.Abs(float64(got-want)) <= float64(tol)
}

// TestMicroKernelTwins checks the assembly micro-kernels against their Go
// twins and both against the defining loop, for several depths, A layouts
// (packed, rows in place, columns in place), alpha, and beta 0 (C full of
// NaN, never read), 1 and another value.
func TestMicroKernelTwins(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	const ldc = tensor.NR + 5
	type kernel struct {
		name string
		f    func(k int, a []float32, rs, cs int, b, c []float32, ldc, pf int, alpha, beta float32)
	}
	packed := func(f func(int, []float32, []float32, []float32, int, float32, float32)) func(int, []float32, int, int, []float32, []float32, int, int, float32, float32) {
		return func(k int, a []float32, rs, cs int, b, c []float32, ldc, _ int, alpha, beta float32) {
			p := make([]float32, k*tensor.MR) // the panel in packed order
			for i := 0; i < tensor.MR; i++ {
				for q := 0; q < k; q++ {
					p[q*tensor.MR+i] = a[i*rs+q*cs]
				}
			}
			f(k, p, b, c, ldc, alpha, beta)
		}
	}
	kernels := []kernel{
		{"packed-go", packed(tensor.KernelGo)},
		{"inplace-go", tensor.KernelStridedGo},
	}
	if tensor.HasAVX2() {
		kernels = append(kernels, kernel{"packed-avx2", packed(tensor.KernelAVX2)}, kernel{"inplace-avx2", tensor.KernelStridedAVX2})
	}
	for _, k := range []int{0, 1, 2, 3, 4, 5, 7, 8, 33, 256} {
		for _, layout := range [][2]int{{1, tensor.MR}, {k + 3, 1}, {1, tensor.MR + 2}} {
			rs, cs := layout[0], layout[1]
			_, a := vecGuarded(rng, (tensor.MR-1)*rs+max(k-1, 0)*cs+1)
			_, b := vecGuarded(rng, k*tensor.NR)
			for _, ab := range [][2]float32{{1, 0}, {1, 1}, {-1.5, -0.75}} {
				alpha, beta := ab[0], ab[1]
				_, c0 := vecGuarded(rng, (tensor.MR-1)*ldc+tensor.NR)
				for i := range c0 {
					if i%ldc >= tensor.NR || beta == 0 {
						c0[i] = float32(math.NaN())
					}
				}
				want := make([]float32, len(c0))
				for i := 0; i < tensor.MR; i++ {
					for j := 0; j < tensor.NR; j++ {
						var s float32
						for p := 0; p < k; p++ {
							s += a[i*rs+p*cs] * b[p*tensor.NR+j]
						}
						s *= alpha
						if beta != 0 {
							s += beta * c0[i*ldc+j]
						}
						want[i*ldc+j] = s
					}
				}
				for _, kern := range kernels {
					name := fmt.Sprintf("%s k=%d rs=%d cs=%d alpha=%g beta=%g", kern.name, k, rs, cs, alpha, beta)
					all, c := vecGuarded(rng, len(c0))
					copy(c, c0)
					kern.f(k, a, rs, cs, b, c, ldc, 8*cs, alpha, beta)
					for i := range c {
						if i%ldc >= tensor.NR {
							if !math.IsNaN(float64(c[i])) {
								t.Fatalf("%s: wrote padding C[%d]", name, i)
							}
							continue
						}
						if !closeTo(c[i], want[i], 2e-5*float32(k+2)) {
							t.Fatalf("%s: C[%d] = %g, want %g", name, i, c[i], want[i])
						}
					}
					if !vecGuardsIntact(all) {
						t.Fatalf("%s: wrote outside C", name)
					}
				}
			}
		}
	}
}

// TestWideKernelTwins checks the AVX-512 12×32 kernels against their Go
// twins. It runs only on CPUs with AVX-512 (whatever DEEPSCOPE_AVX512 says),
// and skips elsewhere.
func TestWideKernelTwins(t *testing.T) {
	if !tensor.HasAVX512() {
		t.Skip("no AVX-512 on this CPU (or a build without assembly)")
	}
	rng := rand.New(rand.NewPCG(11, 12))
	const ldc = 2*tensor.NR + 3
	for _, k := range []int{0, 1, 3, 8, 37, 256} {
		for _, ab := range [][2]float32{{1, 0}, {1, 1}, {-1.5, -0.75}} {
			_, a0 := vecGuarded(rng, k*tensor.MR)
			_, a1 := vecGuarded(rng, k*tensor.MR)
			_, b0 := vecGuarded(rng, k*tensor.NR)
			_, b1 := vecGuarded(rng, k*tensor.NR)
			rs, cs := k+5, 1 // twelve rows in place
			_, a := vecGuarded(rng, 11*rs+max(k-1, 0)*cs+1)
			_, c0 := vecGuarded(rng, 11*ldc+2*tensor.NR)
			for i := range c0 {
				if i%ldc >= 2*tensor.NR || ab[1] == 0 {
					c0[i] = float32(math.NaN())
				}
			}
			for _, kern := range []struct {
				name      string
				want, got func(c []float32)
			}{
				{"packed",
					func(c []float32) { tensor.Kernel12x32Go(k, a0, a1, b0, b1, c, ldc, ab[0], ab[1]) },
					func(c []float32) { tensor.Kernel12x32AVX512(k, a0, a1, b0, b1, c, ldc, ab[0], ab[1]) }},
				{"in-place",
					func(c []float32) { tensor.KernelStrided12x32Go(k, a, rs, cs, b0, b1, c, ldc, 16, ab[0], ab[1]) },
					func(c []float32) { tensor.KernelStrided12x32AVX512(k, a, rs, cs, b0, b1, c, ldc, 16, ab[0], ab[1]) }},
			} {
				want := append([]float32(nil), c0...)
				kern.want(want)
				all, got := vecGuarded(rng, len(c0))
				copy(got, c0)
				kern.got(got)
				for i := range got {
					if i%ldc >= 2*tensor.NR {
						if !math.IsNaN(float64(got[i])) {
							t.Fatalf("%s k=%d: wrote padding C[%d]", kern.name, k, i)
						}
						continue
					}
					if !closeTo(got[i], want[i], 2e-5*float32(k+2)) {
						t.Fatalf("%s k=%d alpha=%g beta=%g: C[%d] = %g, want %g", kern.name, k, ab[0], ab[1], i, got[i], want[i])
					}
				}
				if !vecGuardsIntact(all) {
					t.Fatalf("%s k=%d: wrote outside C", kern.name, k)
				}
			}
		}
	}
}

// TestPackTwins checks the packing copies against their defining loops.
func TestPackTwins(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	type packer struct {
		name string
		f    func(dst, src []float32, ld, kc int)
		// at gives the source index of packed element i.
		at func(i, ld, kc int) int
	}
	const panels = 3
	transA := func(f func(dst, a []float32, lda, kc, panels int)) func([]float32, []float32, int, int) {
		return func(dst, src []float32, ld, kc int) { f(dst, src, ld, kc, panels) }
	}
	atA := func(i, ld, kc int) int { q, p, r := i/(kc*6), i%(kc*6)/6, i%6; return p*ld + q*6 + r }
	atB := func(i, ld, kc int) int { return i/16*ld + i%16 }
	atBT := func(i, ld, kc int) int { return i%16*ld + i/16 }
	packers := []packer{{"a-trans-go", transA(tensor.PackATransGo), atA}, {"b16-go", tensor.PackB16Go, atB}, {"b-trans-go", tensor.PackBTransGo, atBT}}
	if tensor.HasAVX2() {
		packers = append(packers, packer{"a-trans-avx2", transA(tensor.PackATransAVX2), atA}, packer{"b16-avx2", tensor.PackB16AVX2, atB}, packer{"b-trans-avx2", tensor.PackBTransAVX2, atBT})
	}
	for _, p := range packers {
		for _, kc := range []int{1, 2, 5, 8, 64} {
			if p.name == "b-trans-avx2" && kc%8 != 0 {
				continue // eight k steps at a time
			}
			ld := 16*panels + 67
			_, src := vecGuarded(rng, max(kc, 16)*ld)
			size := kc * 16
			if p.name[0] == 'a' {
				size = kc * 6 * panels
			}
			all, dst := vecGuarded(rng, size)
			p.f(dst, src, ld, kc)
			for i, v := range dst {
				if want := src[p.at(i, ld, kc)]; v != want {
					t.Fatalf("%s kc=%d: dst[%d] = %g, want %g", p.name, kc, i, v, want)
				}
			}
			if !vecGuardsIntact(all) {
				t.Fatalf("%s kc=%d: wrote outside dst", p.name, kc)
			}
		}
	}
}

var vecLengths = []int{0, 1, 3, 7, 8, 9, 15, 31, 32, 33, 63, 64, 100, 1027}

func TestVectorKernels(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, asm := range []bool{false, true} {
		if asm && !tensor.HasAVX2() {
			continue
		}
		axpy, dot, scale, add := tensor.AxpyGo, tensor.DotGo, tensor.ScaleGo, tensor.AddGo
		if asm {
			axpy, dot, scale, add = tensor.AxpyAVX2, tensor.DotAVX2, tensor.ScaleAVX2, tensor.AddAVX2
		}
		for _, n := range vecLengths {
			name := fmt.Sprintf("asm=%v n=%d", asm, n)
			xAll, x := vecGuarded(rng, n)
			yAll, y := vecGuarded(rng, n)
			y0 := append([]float32(nil), y...)

			axpy(0.5, x, y)
			for i := range y {
				if !closeTo(y[i], y0[i]+0.5*x[i], 1e-6) {
					t.Fatalf("axpy %s: y[%d] = %g, want %g", name, i, y[i], y0[i]+0.5*x[i])
				}
			}
			copy(y, y0)

			var want float64
			for i := range x {
				want += float64(x[i]) * float64(y[i])
			}
			if got := dot(x, y); !closeTo(got, float32(want), 1e-6*float32(n+1)) {
				t.Fatalf("dot %s = %g, want %g", name, got, want)
			}

			scale(-3, y)
			for i := range y {
				if y[i] != -3*y0[i] {
					t.Fatalf("scale %s: y[%d] = %g, want %g", name, i, y[i], -3*y0[i])
				}
			}
			copy(y, y0)

			dAll, d := vecGuarded(rng, n)
			add(d, x, y)
			for i := range d {
				if d[i] != x[i]+y[i] {
					t.Fatalf("add %s: d[%d] = %g, want %g", name, i, d[i], x[i]+y[i])
				}
			}
			add(x, x, y) // in place
			for i := range x {
				if x[i] != d[i] {
					t.Fatalf("add in place %s: x[%d] = %g, want %g", name, i, x[i], d[i])
				}
			}
			for _, g := range [][]float32{xAll, yAll, dAll} {
				if !vecGuardsIntact(g) {
					t.Fatalf("%s: a kernel wrote outside its slice", name)
				}
			}
		}
	}
}

func TestVectorAPIPanicsOnLengths(t *testing.T) {
	x, y := make([]float32, 3), make([]float32, 4)
	for name, f := range map[string]func(){
		"Axpy": func() { tensor.Axpy(1, x, y) },
		"Dot":  func() { tensor.Dot(x, y) },
		"Add":  func() { tensor.Add(x, x, y) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s with lengths 3 and 4 did not panic", name)
				}
			}()
			f()
		}()
	}
}

func TestPeakGFLOPS(t *testing.T) {
	if testing.Short() {
		t.Skip("measures for a second")
	}
	p := tensor.PeakGFLOPS(1)
	if !(p > 0.1) || math.IsInf(p, 0) {
		t.Fatalf("PeakGFLOPS(1) = %g, want a positive finite rate", p)
	}
}
