package privacy

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/deepscope/deepscope/nn"
	"github.com/deepscope/deepscope/tensor"
)

// TestAddNoiseStatistics checks that AddNoise adds N(0, std²) and then
// scales: the mean, variance and fourth moment of (g' - g·scale)/(std·scale)
// over many values are those of a standard normal, neighbouring values
// (also across chunk borders) are uncorrelated, and the same rng state
// gives the same noise.
func TestAddNoiseStatistics(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	params := []*nn.Param{
		nn.NewParam("a", tensor.Randn(rng, 1, 3*noiseChunk+17)),
		nn.NewParam("b", tensor.Randn(rng, 1, 1000)),
	}
	var before []float64
	for _, p := range params {
		copy(p.Grad.Data, p.Value.Data)
		for _, v := range p.Grad.Data {
			before = append(before, float64(v))
		}
	}
	const std, scale = 2.5, 0.1
	AddNoise(params, std, scale, rand.New(rand.NewPCG(5, 6)))
	var z []float64
	for _, p := range params {
		for _, v := range p.Grad.Data {
			z = append(z, 0)
			z[len(z)-1] = (float64(v) - before[len(z)-1]*scale) / (std * scale)
		}
	}
	n := float64(len(z))
	var m1, m2, m4, lag float64
	for i, v := range z {
		m1 += v
		m2 += v * v
		m4 += v * v * v * v
		if i > 0 {
			lag += v * z[i-1]
		}
	}
	m1, m2, m4, lag = m1/n, m2/n, m4/n, lag/(n-1)
	se := 1 / math.Sqrt(n)
	for _, c := range []struct {
		name      string
		got, want float64
		tol       float64
	}{
		{"mean", m1, 0, 5 * se},
		{"variance", m2, 1, 5 * math.Sqrt2 * se},
		{"fourth moment", m4, 3, 5 * math.Sqrt(96) * se},
		{"lag-1 correlation", lag, 0, 5 * se},
	} {
		if math.Abs(c.got-c.want) > c.tol {
			t.Errorf("%s %.5f, want %g ± %.5f", c.name, c.got, c.want, c.tol)
		}
	}
	// The same rng state gives the same noise; another gives other noise.
	a := nn.NewParam("a", tensor.New(100))
	b := nn.NewParam("b", tensor.New(100))
	AddNoise([]*nn.Param{a}, 1, 1, rand.New(rand.NewPCG(7, 7)))
	AddNoise([]*nn.Param{b}, 1, 1, rand.New(rand.NewPCG(7, 7)))
	for i := range a.Grad.Data {
		if a.Grad.Data[i] != b.Grad.Data[i] {
			t.Fatalf("same rng, value %d: %g and %g", i, a.Grad.Data[i], b.Grad.Data[i])
		}
	}
	AddNoise([]*nn.Param{b}, 1, 1, rand.New(rand.NewPCG(8, 8)))
	if a.Grad.Data[0]*2 == b.Grad.Data[0] {
		t.Error("a second draw repeated the first")
	}
}

// TestPoissonSample checks the batch sizes' mean and variance, q·n and
// q(1-q)·n, and that indices are distinct and increasing.
func TestPoissonSample(t *testing.T) {
	rng := SecureRand()
	const n, q, trials = 2000, 0.03, 2000
	var sum, sumSq float64
	var dst []int
	for range trials {
		dst = PoissonSample(dst, n, q, rng)
		for i := 1; i < len(dst); i++ {
			if dst[i] <= dst[i-1] {
				t.Fatalf("indices not increasing: %v", dst)
			}
		}
		k := float64(len(dst))
		sum += k
		sumSq += k * k
	}
	mean := sum / trials
	variance := sumSq/trials - mean*mean
	wantVar := q * (1 - q) * n
	if math.Abs(mean-q*n) > 5*math.Sqrt(wantVar/trials) {
		t.Errorf("mean batch %g, want %g", mean, q*n)
	}
	if math.Abs(variance/wantVar-1) > 0.15 {
		t.Errorf("batch variance %g, want %g", variance, wantVar)
	}
}
