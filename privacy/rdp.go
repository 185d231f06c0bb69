package privacy

import (
	"fmt"
	"math"
)

// DefaultOrders are the Rényi orders the accountant minimises over: the
// list TF-Privacy's compute_dp_sgd_privacy uses, from 1.25 to 512.
var DefaultOrders = defaultOrders()

func defaultOrders() []float64 {
	o := []float64{1.25, 1.5, 1.75, 2, 2.25, 2.5, 3, 3.5, 4, 4.5}
	for a := 5; a < 64; a++ {
		o = append(o, float64(a))
	}
	return append(o, 128, 256, 512)
}

// SampledGaussianRDP returns, for each order α, the Rényi differential
// privacy ε(α) of one step of the sampled Gaussian mechanism: each example
// is included with probability q, the sum of the included examples'
// contributions (each of L2 norm at most 1) gets Gaussian noise of standard
// deviation sigma. ε(α) = log(A_α)/(α-1) with
//
//	A_α = E_{z~N(0,σ²)} [((1-q) + q·exp((2z-1)/(2σ²)))^α],
//
// computed as a binomial sum for integer α and as the two-sided series of
// Mironov et al. (2019, Section 3.3) for fractional α. The series' terms
// keep the signs of their binomial coefficients C(α, i), which alternate
// once i > α+1. (TF-Privacy's dp_accounting adds them by absolute value,
// an upper bound: 3% above the exact RDP at q = 0.01, σ = 2.5, α = 1.5;
// its older rdp_accountant kept the signs.) An order whose series does
// not converge gets +Inf, so it is never the minimum.
//
// It panics unless 0 <= q <= 1, sigma >= 0 and every order is > 1.
func SampledGaussianRDP(q, sigma float64, orders []float64) []float64 {
	if !(q >= 0 && q <= 1) || !(sigma >= 0) {
		panic(fmt.Sprintf("privacy: SampledGaussianRDP(q=%g, sigma=%g)", q, sigma))
	}
	out := make([]float64, len(orders))
	for i, a := range orders {
		if !(a > 1) {
			panic(fmt.Sprintf("privacy: Rényi order %g, want > 1", a))
		}
		switch {
		case q == 0:
			out[i] = 0
		case sigma == 0 || math.IsInf(a, 1):
			out[i] = math.Inf(1)
		case q == 1:
			out[i] = a / (2 * sigma * sigma)
		case a == math.Trunc(a) && a < 1<<20:
			out[i] = logAInt(q, sigma, int(a)) / (a - 1)
		default:
			out[i] = logAFrac(q, sigma, a) / (a - 1)
		}
	}
	return out
}

// logAInt returns log A_α for integer α >= 2:
// log Σ_{i=0..α} C(α,i) q^i (1-q)^(α-i) exp((i²-i)/(2σ²)).
func logAInt(q, sigma float64, alpha int) float64 {
	la := math.Inf(-1)
	lq, l1q := math.Log(q), math.Log1p(-q)
	for i := 0; i <= alpha; i++ {
		fi := float64(i)
		c, _ := logBinom(float64(alpha), fi)
		t := c + fi*lq + float64(alpha-i)*l1q + (fi*fi-fi)/(2*sigma*sigma)
		la = logAdd(la, t)
	}
	return la
}

// maxSeriesTerms bounds the fractional-order series.
const maxSeriesTerms = 1000

// logAFrac returns log A_α for fractional α as the sum of the integrals
// over (-∞, z0] and [z0, ∞), z0 = σ² log(1/q - 1) + 1/2, each a series in
// i whose terms carry a Gaussian tail ½·erfc. The sum stops when both
// series' terms are falling and below e⁻³⁰ of the total.
func logAFrac(q, sigma, alpha float64) float64 {
	pos, neg := math.Inf(-1), math.Inf(-1) // logs of the positive and negative terms' sums
	z0 := sigma*sigma*math.Log(1/q-1) + 0.5
	lq, l1q := math.Log(q), math.Log1p(-q)
	s2 := math.Sqrt2 * sigma
	last0, last1 := math.Inf(-1), math.Inf(-1)
	for i := 0; i < maxSeriesTerms; i++ {
		fi := float64(i)
		c, sign := logBinom(alpha, fi)
		j := alpha - fi
		t0 := c + fi*lq + j*l1q
		t1 := c + j*lq + fi*l1q
		e0 := math.Log(0.5) + logErfc((fi-z0)/s2)
		e1 := math.Log(0.5) + logErfc((z0-j)/s2)
		s0 := t0 + (fi*fi-fi)/(2*sigma*sigma) + e0
		s1 := t1 + (j*j-j)/(2*sigma*sigma) + e1
		if sign > 0 {
			pos = logAdd(pos, logAdd(s0, s1))
		} else {
			neg = logAdd(neg, logAdd(s0, s1))
		}
		if s0 < last0 && s1 < last1 && math.Max(s0, s1) < pos-30 {
			if d := neg - pos; d < -1e-9 {
				return pos + math.Log1p(-math.Exp(d))
			}
			return pos // cancellation would eat the digits: keep the upper bound
		}
		last0, last1 = s0, s1
	}
	return math.Inf(1)
}

// logBinom returns log |C(n, k)| and its sign for real n > -1 and integer
// k >= 0: C(n, k) = Γ(n+1) / (Γ(k+1) Γ(n-k+1)).
func logBinom(n, k float64) (float64, int) {
	a, _ := math.Lgamma(n + 1)
	b, _ := math.Lgamma(k + 1)
	c, sign := math.Lgamma(n - k + 1)
	return a - b - c, sign
}

// logAdd returns log(eˣ + eʸ) without overflow.
func logAdd(x, y float64) float64 {
	a, b := math.Min(x, y), math.Max(x, y)
	if math.IsInf(a, -1) {
		return b
	}
	return b + math.Log1p(math.Exp(a-b))
}

// logErfc returns log(erfc(x)), accurate where erfc underflows: beyond
// x = 25 it uses the asymptotic series
// erfc(x) = e^(-x²)/(x√π)·(1 - 1/(2x²) + 3/(4x⁴) - 15/(8x⁶) + 105/(16x⁸)).
func logErfc(x float64) float64 {
	if x <= 25 {
		return math.Log(math.Erfc(x))
	}
	u := 1 / (2 * x * x) // the series in powers of 1/(2x²): 1, -1, 3, -15, 105
	s := 1 - u*(1-3*u*(1-5*u*(1-7*u)))
	return -x*x - math.Log(x) - 0.5*math.Log(math.Pi) + math.Log(s)
}
