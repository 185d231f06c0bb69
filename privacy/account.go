package privacy

import (
	"fmt"
	"math"
)

// AccountantName names the accounting method in ledgers and reports.
const AccountantName = "RDP, sampled Gaussian (Mironov et al. 2019), (ε, δ) conversion of Balle et al. 2020"

// EpsilonFromRDP turns RDP guarantees rdp[i] at orders[i] into the
// smallest ε such that the mechanism is (ε, δ)-DP, and the order that
// gives it. It uses the conversion of Balle et al. (2020, Proposition 12),
//
//	ε = rdp(α) + log((α-1)/α) - (log δ + log α)/(α-1),
//
// tighter than Mironov's (2017) rdp(α) - log δ/(α-1), and takes ε = 0 at
// an order whose RDP is so small that δ alone covers it
// (δ² ≥ 1 - exp(-rdp), the bound through the KL divergence). Orders at or
// below 1.01 are skipped, where the conversion is numerically unstable.
// It returns +Inf when no order gives a finite ε.
func EpsilonFromRDP(orders, rdp []float64, delta float64) (eps, order float64) {
	if len(orders) != len(rdp) {
		panic(fmt.Sprintf("privacy: %d orders and %d RDP values", len(orders), len(rdp)))
	}
	eps, order = math.Inf(1), 0
	for i, a := range orders {
		r := math.Max(rdp[i], 0)
		var e float64
		switch {
		case delta*delta+math.Expm1(-r) >= 0:
			e = 0
		case a > 1.01:
			e = r + math.Log1p(-1/a) - math.Log(delta*a)/(a-1)
		default:
			e = math.Inf(1)
		}
		if e < eps {
			eps, order = e, a
		}
	}
	return math.Max(eps, 0), order
}

// ClassicEpsilonFromRDP is Mironov's (2017, Proposition 3) conversion,
// ε = min over α of rdp(α) - log δ/(α-1), which older TF-Privacy releases
// used. It is looser than EpsilonFromRDP and kept for comparison.
func ClassicEpsilonFromRDP(orders, rdp []float64, delta float64) (eps, order float64) {
	eps = math.Inf(1)
	for i, a := range orders {
		if e := rdp[i] - math.Log(delta)/(a-1); e < eps {
			eps, order = e, a
		}
	}
	return eps, order
}

// Accountant adds up the privacy cost of DP-SGD steps as RDP at a fixed
// list of orders: RDP composes by addition, so T steps cost T times one.
type Accountant struct {
	Orders []float64
	rdp    []float64
}

// NewAccountant returns an accountant over orders (nil: DefaultOrders)
// with nothing spent.
func NewAccountant(orders []float64) *Accountant {
	if orders == nil {
		orders = DefaultOrders
	}
	return &Accountant{Orders: orders, rdp: make([]float64, len(orders))}
}

// Compose records steps steps of the sampled Gaussian mechanism with
// sampling rate q and noise multiplier sigma (the noise's standard
// deviation over the clipping norm).
func (a *Accountant) Compose(q, sigma float64, steps int) {
	for i, r := range SampledGaussianRDP(q, sigma, a.Orders) {
		a.rdp[i] += float64(steps) * r
	}
}

// RDP returns the RDP spent so far, one value per order.
func (a *Accountant) RDP() []float64 { return append([]float64(nil), a.rdp...) }

// Epsilon returns the ε spent so far at δ, and the order that gives it.
func (a *Accountant) Epsilon(delta float64) (eps, order float64) {
	return EpsilonFromRDP(a.Orders, a.rdp, delta)
}

// checkArgs reports the first argument of a DP-SGD analysis out of range.
func checkArgs(q float64, steps int, delta float64) error {
	switch {
	case !(q > 0 && q <= 1):
		return fmt.Errorf("privacy: sampling rate %g: want a value in (0, 1]", q)
	case steps < 0:
		return fmt.Errorf("privacy: %d steps: want >= 0", steps)
	case !(delta > 0 && delta < 1):
		return fmt.Errorf("privacy: delta %g: want a value in (0, 1)", delta)
	}
	return nil
}

// Epsilon returns the ε at δ of steps DP-SGD steps with Poisson sampling
// rate q and noise multiplier sigma, over DefaultOrders.
func Epsilon(q, sigma float64, steps int, delta float64) (float64, error) {
	if err := checkArgs(q, steps, delta); err != nil {
		return 0, err
	}
	if !(sigma >= 0) {
		return 0, fmt.Errorf("privacy: noise multiplier %g: want >= 0", sigma)
	}
	a := NewAccountant(nil)
	a.Compose(q, sigma, steps)
	eps, _ := a.Epsilon(delta)
	return eps, nil
}

// maxNoise bounds NoiseForEpsilon's search.
const maxNoise = 1e4

// NoiseForEpsilon returns the smallest noise multiplier (to a relative
// 1e-4, rounded up) for which steps DP-SGD steps with Poisson sampling
// rate sampleRate stay within (targetEps, delta)-DP, found by bisection:
// ε falls as the noise grows. The result never overshoots the budget.
func NoiseForEpsilon(targetEps, delta, sampleRate float64, steps int) (float64, error) {
	if err := checkArgs(sampleRate, steps, delta); err != nil {
		return 0, err
	}
	if !(targetEps > 0) || math.IsInf(targetEps, 1) {
		return 0, fmt.Errorf("privacy: target epsilon %g: want a finite value > 0", targetEps)
	}
	eps := func(sigma float64) float64 {
		e, _ := Epsilon(sampleRate, sigma, steps, delta)
		return e
	}
	lo, hi := 0.0, 1.0
	for eps(hi) > targetEps {
		lo, hi = hi, 2*hi
		if hi > maxNoise {
			return 0, fmt.Errorf("privacy: epsilon %g at delta %g over %d steps at sampling rate %g needs a noise multiplier above %g; allow a larger epsilon, fewer epochs or a smaller batch",
				targetEps, delta, steps, sampleRate, maxNoise)
		}
	}
	for hi-lo > 1e-4*hi {
		mid := (lo + hi) / 2
		if eps(mid) > targetEps {
			lo = mid
		} else {
			hi = mid
		}
	}
	return hi, nil
}
