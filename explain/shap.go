package explain

import (
	"math"
	"math/rand/v2"

	"github.com/deepscope/deepscope/nn"
	"github.com/deepscope/deepscope/tensor"
)

// KernelSHAP estimates the Shapley values of the superpixels (Lundberg and
// Lee, 2017): the class's output with a coalition of superpixels on and
// the rest replaced by the reference is regressed on the coalition, with
// coalitions weighted by the Shapley kernel
// (d-1) / (C(d, s) s (d-s)) for s of d superpixels on, under the
// constraint that the values add up to f(x) - f(reference). When Samples
// covers every coalition they are all enumerated and the values are exact;
// otherwise coalition sizes are drawn in proportion to the kernel's total
// weight per size, each with its complement, and weighted equally. A
// superpixel's value is spread evenly over its pixels, so the map adds up
// to f(x) - f(reference).
type KernelSHAP struct {
	Segments int    // superpixels; 0 means 48
	Samples  int    // coalitions; 0 means 512
	Batch    int    // coalitions per pass; 0 means DefaultBatch
	Seed     uint64 // seed of the coalitions
	Output   Output
	Reference
}

// Name returns "shap".
func (KernelSHAP) Name() string { return "shap" }

// Explain returns the Shapley value estimates per pixel.
func (k KernelSHAP) Explain(m nn.Module, x *tensor.Tensor, class int) (heat *tensor.Tensor, err error) {
	defer guard(&err, x)
	r, err := newRunner(m, x, class, k.Batch)
	if err != nil {
		return nil, err
	}
	s, err := newSegmented(r, k.Reference, k.Segments)
	if err != nil {
		return nil, err
	}
	n := k.Samples
	if n <= 0 {
		n = 512
	}
	d := s.d
	on, w := coalitions(d, n, rand.New(rand.NewPCG(k.Seed, 0x5348)))
	n = len(w)
	// Pattern n is the empty coalition: the reference's output.
	ys := r.scores(n+1, k.Output, func(i int, img []float32) {
		if i == n {
			copy(img, s.ref)
			return
		}
		s.fill(img, on[i*d:(i+1)*d])
	})
	phi, err := shapleyValues(d, on, w, ys[:n], score(r.logits, class, k.Output), ys[n])
	if err != nil {
		return nil, err
	}
	return s.paint(phi), nil
}

// shapleyValues solves Kernel SHAP's constrained regression: the values
// phi of d players that best explain the outputs ys of the coalitions on
// (rows of d flags) with weights w, given the full coalition's output fx
// and the empty one's f0, under sum(phi) = fx - f0. The constraint
// eliminates the last value: phi[d-1] = fx - f0 - sum(others).
func shapleyValues(d int, on []bool, w, ys []float64, fx, f0 float64) ([]float64, error) {
	delta := fx - f0
	phi := make([]float64, d)
	n := len(ys)
	if d == 1 || n == 0 {
		phi[d-1] = delta
		return phi, nil
	}
	X := make([]float64, n*(d-1))
	y := make([]float64, n)
	for i := range n {
		last := 0.0
		if on[i*d+d-1] {
			last = 1
		}
		for j := 0; j < d-1; j++ {
			v := 0.0
			if on[i*d+j] {
				v = 1
			}
			X[i*(d-1)+j] = v - last
		}
		y[i] = ys[i] - f0 - last*delta
	}
	beta, _, err := weightedRidge(X, y, w, d-1, 0, false)
	if err != nil {
		return nil, err
	}
	copy(phi, beta)
	phi[d-1] = delta
	for _, v := range beta {
		phi[d-1] -= v
	}
	return phi, nil
}

// coalitions returns coalitions of d players, neither empty nor full, as
// rows of d on/off flags, and their regression weights: all of them with
// Shapley kernel weights when there are at most n, otherwise n (rounded up
// to even) drawn in complementary pairs, sizes in proportion to the
// kernel's weight per size, with equal weights.
func coalitions(d, n int, rng *rand.Rand) ([]bool, []float64) {
	if d <= 1 {
		return nil, nil
	}
	if d < 30 && (1<<d)-2 <= n {
		var on []bool
		var w []float64
		for mask := 1; mask < (1<<d)-1; mask++ {
			s := 0
			for j := range d {
				b := mask>>j&1 == 1
				on = append(on, b)
				if b {
					s++
				}
			}
			w = append(w, float64(d-1)/(binomial(d, s)*float64(s*(d-s))))
		}
		return on, w
	}
	// Total kernel weight of size s is C(d,s) times the kernel: (d-1)/(s(d-s)).
	cum := make([]float64, d)
	for s := 1; s < d; s++ {
		cum[s] = cum[s-1] + 1/float64(s*(d-s))
	}
	pairs := (n + 1) / 2
	on := make([]bool, 2*pairs*d)
	w := make([]float64, 2*pairs)
	perm := make([]int, d)
	for i := range perm {
		perm[i] = i
	}
	for p := range pairs {
		u := rng.Float64() * cum[d-1]
		s := 1
		for s < d-1 && cum[s] < u {
			s++
		}
		for j := 0; j < s; j++ { // a random s-subset: a partial shuffle
			k := j + rng.IntN(d-j)
			perm[j], perm[k] = perm[k], perm[j]
		}
		a, b := on[2*p*d:(2*p+1)*d], on[(2*p+1)*d:(2*p+2)*d]
		for j := range b {
			b[j] = true
		}
		for _, j := range perm[:s] {
			a[j], b[j] = true, false
		}
		w[2*p], w[2*p+1] = 1, 1
	}
	return on, w
}

// binomial returns C(n, k) as a float.
func binomial(n, k int) float64 {
	r := 1.0
	for i := 1; i <= k; i++ {
		r = r * float64(n-k+i) / float64(i)
	}
	return math.Round(r)
}
