package tensor_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/deepscope/deepscope/tensor"
)

const guard = 7 // NaN values on each side of every output slice

// guarded returns a slice of n values with NaN guard bands on both sides,
// and a function that reports whether the guards are intact.
func guarded(n int) ([]float32, func() bool) {
	buf := make([]float32, n+2*guard)
	for i := range buf {
		buf[i] = float32(math.NaN())
	}
	intact := func() bool {
		for i := range guard {
			if !math.IsNaN(float64(buf[i])) || !math.IsNaN(float64(buf[n+guard+i])) {
				return false
			}
		}
		return true
	}
	return buf[guard : guard+n : guard+n], intact
}

// refSoftmax is the float64 definition of softmax and log-softmax of a row.
func refSoftmax(row []float32) (p, logp []float64) {
	m := math.Inf(-1)
	for _, v := range row {
		m = math.Max(m, float64(v))
	}
	var s float64
	for _, v := range row {
		s += math.Exp(float64(v) - m)
	}
	for _, v := range row {
		lp := float64(v) - m - math.Log(s)
		logp = append(logp, lp)
		p = append(p, math.Exp(lp))
	}
	return p, logp
}

func TestSoftmaxRowsRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	for _, sh := range [][2]int{{1, 1}, {3, 5}, {17, 33}, {64, 1000}, {300, 2}} {
		rows, cols := sh[0], sh[1]
		src := tensor.Randn(rng, 5, rows, cols).Values()
		p, pOK := guarded(rows * cols)
		lp, lpOK := guarded(rows * cols)
		tensor.SoftmaxRows(p, src, rows, cols)
		tensor.LogSoftmaxRows(lp, src, rows, cols)
		if !pOK() || !lpOK() {
			t.Fatalf("%v: write outside the output", sh)
		}
		for i := range rows {
			wp, wlp := refSoftmax(src[i*cols : (i+1)*cols])
			var sum float64
			for j := range cols {
				got, gotl := float64(p[i*cols+j]), float64(lp[i*cols+j])
				sum += got
				if math.Abs(got-wp[j]) > 1e-6 || math.Abs(gotl-wlp[j]) > 1e-5*math.Max(1, math.Abs(wlp[j])) {
					t.Fatalf("%v: row %d col %d: softmax %g log %g, want %g %g", sh, i, j, got, gotl, wp[j], wlp[j])
				}
			}
			if math.Abs(sum-1) > 1e-5 {
				t.Errorf("%v: row %d sums to %g", sh, i, sum)
			}
		}
	}
}

func TestSoftmaxRowsExtremes(t *testing.T) {
	inf := float32(math.Inf(1))
	nan := math.NaN()
	cases := []struct {
		name    string
		row     []float32
		p, logp []float64
	}{
		{"shift invariant", []float32{1000, 1001, 1002}, []float64{0.09003057, 0.24472847, 0.66524096}, []float64{-2.40760596, -1.40760596, -0.40760596}},
		{"huge gap", []float32{1e30, 0}, []float64{1, 0}, []float64{0, -1e30}},
		{"all -1e30", []float32{-1e30, -1e30, -1e30, -1e30}, []float64{0.25, 0.25, 0.25, 0.25}, []float64{-math.Ln2 * 2, -math.Ln2 * 2, -math.Ln2 * 2, -math.Ln2 * 2}},
		{"-max float", []float32{-math.MaxFloat32, 0}, []float64{0, 1}, []float64{-math.MaxFloat32, 0}},
		{"masked by -Inf", []float32{-inf, 2, -inf}, []float64{0, 1, 0}, []float64{math.Inf(-1), 0, math.Inf(-1)}},
		{"all -Inf is NaN", []float32{-inf, -inf}, []float64{nan, nan}, []float64{nan, nan}},
		{"NaN spreads", []float32{0, float32(nan), 1}, []float64{nan, nan, nan}, []float64{nan, nan, nan}},
	}
	for _, c := range cases {
		n := len(c.row)
		p, lp := make([]float32, n), make([]float32, n)
		tensor.SoftmaxRows(p, c.row, 1, n)
		tensor.LogSoftmaxRows(lp, c.row, 1, n)
		for j := range n {
			if !near(float64(p[j]), c.p[j], 1e-6) || !near(float64(lp[j]), c.logp[j], 1e-6) {
				t.Errorf("%s: col %d: softmax %g log %g, want %g %g", c.name, j, p[j], lp[j], c.p[j], c.logp[j])
			}
		}
	}
}

// near compares with a relative tolerance, treating equal infinities and
// two NaNs as equal.
func near(got, want, tol float64) bool {
	switch {
	case math.IsNaN(want):
		return math.IsNaN(got)
	case math.IsInf(want, 0):
		return got == want
	}
	return math.Abs(got-want) <= tol*math.Max(1, math.Abs(want))
}

func TestSoftmaxRowsInPlace(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 2))
	src := tensor.Randn(rng, 3, 4, 9).Values()
	want := make([]float32, len(src))
	tensor.SoftmaxRows(want, src, 4, 9)
	got := append([]float32(nil), src...)
	tensor.SoftmaxRows(got, got, 4, 9)
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("in place differs at %d: %g vs %g", i, got[i], want[i])
		}
	}
}

func TestSoftmaxRowsBackward(t *testing.T) {
	// The analytic gradient equals the Jacobian-vector product computed
	// from the float64 definition: J[j,k] = p_j (δ_jk - p_k).
	rng := rand.New(rand.NewPCG(3, 3))
	for _, sh := range [][2]int{{1, 4}, {5, 7}, {40, 130}} {
		rows, cols := sh[0], sh[1]
		src := tensor.Randn(rng, 2, rows, cols).Values()
		dy := tensor.Randn(rng, 1, rows, cols).Values()
		y := make([]float32, rows*cols)
		tensor.SoftmaxRows(y, src, rows, cols)
		dx, ok := guarded(rows * cols)
		tensor.SoftmaxRowsBackward(dx, y, dy, rows, cols)
		if !ok() {
			t.Fatalf("%v: write outside the output", sh)
		}
		for i := range rows {
			p, _ := refSoftmax(src[i*cols : (i+1)*cols])
			for j := range cols {
				var want float64
				for k := range cols {
					d := 0.0
					if j == k {
						d = 1
					}
					want += float64(dy[i*cols+k]) * p[j] * (d - p[k])
				}
				if math.Abs(float64(dx[i*cols+j])-want) > 1e-5 {
					t.Fatalf("%v: dx[%d,%d] = %g, want %g", sh, i, j, dx[i*cols+j], want)
				}
			}
		}
	}
}

func TestSoftmaxRowsPanicsOnShortSlices(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("no panic for a short slice")
		}
	}()
	tensor.SoftmaxRows(make([]float32, 5), make([]float32, 6), 2, 3)
}

func BenchmarkSoftmaxRows(b *testing.B) {
	for _, sh := range [][2]int{{128, 10}, {1024, 197}} {
		rows, cols := sh[0], sh[1]
		src := tensor.Randn(rand.New(rand.NewPCG(4, 4)), 3, rows, cols).Values()
		dst := make([]float32, rows*cols)
		b.Run(benchName(rows, cols), func(b *testing.B) {
			b.SetBytes(int64(4 * rows * cols))
			for b.Loop() {
				tensor.SoftmaxRows(dst, src, rows, cols)
			}
		})
	}
}

func benchName(rows, cols int) string { return fmt.Sprintf("rows=%d,cols=%d", rows, cols) }

func TestExp32(t *testing.T) {
	// Relative error against math.Exp over the whole normal range.
	worst := 0.0
	for x := float32(-87.3); x < 88.72; x += 0.00037 {
		got, want := float64(tensor.Exp32(x)), math.Exp(float64(x))
		if e := math.Abs(got-want) / want; e > worst {
			worst = e
		}
	}
	if worst > 1e-7 {
		t.Errorf("Exp32 relative error up to %g", worst)
	}
	inf := float32(math.Inf(1))
	cases := []struct{ x, want float32 }{
		{0, 1}, {1, math.E}, {-1, 1 / math.E},
		{88.72283, 3.4027981e38}, {88.8, inf}, {inf, inf},
		{-103.9, float32(math.Exp(-103.9))}, {-104, 0}, {-inf, 0},
		{-100, float32(math.Exp(-100))}, // denormal
	}
	for _, c := range cases {
		if got := tensor.Exp32(c.x); math.Abs(float64(got-c.want)) > 2e-7*math.Abs(float64(c.want)) && got != c.want {
			t.Errorf("Exp32(%g) = %g, want %g", c.x, got, c.want)
		}
	}
	if got := tensor.Exp32(float32(math.NaN())); !math.IsNaN(float64(got)) {
		t.Errorf("Exp32(NaN) = %g", got)
	}
}

func BenchmarkExp32(b *testing.B) {
	x := make([]float32, 4096)
	for i := range x {
		x[i] = float32(i%200)/20 - 5
	}
	y := make([]float32, len(x))
	b.Run("Exp32", func(b *testing.B) {
		for b.Loop() {
			for i, v := range x {
				y[i] = tensor.Exp32(v)
			}
		}
	})
	b.Run("math.Exp", func(b *testing.B) {
		for b.Loop() {
			for i, v := range x {
				y[i] = float32(math.Exp(float64(v)))
			}
		}
	})
}
