package drift

import (
	"math"
	"math/rand/v2"
	"slices"
	"sort"
)

// KS returns the two-sample Kolmogorov–Smirnov statistic D (the largest
// gap between the empirical distribution functions) of the sorted sample
// ref and the sample x, and its asymptotic p-value (Numerical Recipes'
// formula with the effective size nm/(n+m)).
func KS(ref []float64, x []float64) (d, p float64) {
	if len(ref) == 0 || len(x) == 0 {
		return 0, 1
	}
	xs := slices.Clone(x)
	slices.Sort(xs)
	i, j := 0, 0
	n, m := float64(len(ref)), float64(len(xs))
	for i < len(ref) && j < len(xs) {
		v := min(ref[i], xs[j])
		for i < len(ref) && ref[i] <= v {
			i++
		}
		for j < len(xs) && xs[j] <= v {
			j++
		}
		d = max(d, math.Abs(float64(i)/n-float64(j)/m))
	}
	ne := n * m / (n + m)
	return d, ksQ((math.Sqrt(ne) + 0.12 + 0.11/math.Sqrt(ne)) * d)
}

// ksQ is the Kolmogorov distribution's survival function
// Q(λ) = 2 Σ_{k≥1} (-1)^(k-1) exp(-2k²λ²).
func ksQ(lambda float64) float64 {
	if lambda < 0.2 {
		return 1
	}
	var s, sign float64 = 0, 1
	for k := 1; k <= 100; k++ {
		t := sign * 2 * math.Exp(-2*float64(k*k)*lambda*lambda)
		s += t
		if math.Abs(t) < 1e-10 {
			break
		}
		sign = -sign
	}
	return min(max(s, 0), 1)
}

// psiBins returns the inner edges of up to 10 quantile bins of the sorted
// sample ref (fewer when ref is small, so that each bin expects at least
// 20 reference values); equal edges are merged.
func psiBins(ref []float64) []float64 {
	bins := min(10, len(ref)/20)
	var edges []float64
	for b := 1; b < bins; b++ {
		e := ref[b*len(ref)/bins]
		if len(edges) == 0 || e > edges[len(edges)-1] {
			edges = append(edges, e)
		}
	}
	return edges
}

// binShares returns the fraction of x in each bin bounded by edges (a
// value equal to an edge goes to the bin above it).
func binShares(edges []float64, x []float64) []float64 {
	out := make([]float64, len(edges)+1)
	for _, v := range x {
		out[sort.Search(len(edges), func(i int) bool { return edges[i] > v })]++
	}
	for i := range out {
		out[i] /= float64(max(len(x), 1))
	}
	return out
}

// PSI returns the population stability index Σ (q-p) ln(q/p) of the bin
// shares q of x against the reference shares p (shares floored at 1e-4).
// By the usual rule of thumb below 0.1 is stable and above 0.25 a shift;
// on small samples it is biased upwards by about (bins-1)(1/n + 1/m).
func PSI(edges, refShares []float64, x []float64) float64 {
	q := binShares(edges, x)
	var s float64
	for i, p := range refShares {
		p, qi := max(p, 1e-4), max(q[i], 1e-4)
		s += (qi - p) * math.Log(qi/p)
	}
	return s
}

// MMD returns the biased (V-statistic) estimate of the squared maximum mean
// discrepancy between the samples a and b under the Gaussian kernel
// exp(-|x-y|²/(2σ²)) with 2σ² = scale, and the p-value of a permutation
// test with perms random relabellings of the pooled sample, drawn from rng:
// (1 + #{permuted ≥ observed}) / (1 + perms).
func MMD(a, b [][]float32, scale float64, perms int, rng *rand.Rand) (mmd2, p float64) {
	n := len(a) + len(b)
	if len(a) == 0 || len(b) == 0 {
		return 0, 1
	}
	z := append(append(make([][]float32, 0, n), a...), b...)
	k := make([]float64, n*n)
	for i := 0; i < n; i++ {
		k[i*n+i] = 1
		for j := i + 1; j < n; j++ {
			v := math.Exp(-sqDist(z[i], z[j]) / scale)
			k[i*n+j], k[j*n+i] = v, v
		}
	}
	inA := make([]bool, n)
	for i := range a {
		inA[i] = true
	}
	stat := func() float64 {
		var aa, bb, ab float64
		for i := 0; i < n; i++ {
			row := k[i*n : (i+1)*n]
			for j := 0; j < n; j++ {
				switch {
				case inA[i] && inA[j]:
					aa += row[j]
				case !inA[i] && !inA[j]:
					bb += row[j]
				default:
					ab += row[j]
				}
			}
		}
		na, nb := float64(len(a)), float64(len(b))
		return aa/(na*na) + bb/(nb*nb) - ab/(na*nb)
	}
	mmd2 = stat()
	ge := 0
	for range perms {
		rng.Shuffle(n, func(i, j int) { inA[i], inA[j] = inA[j], inA[i] })
		if stat() >= mmd2 {
			ge++
		}
	}
	return mmd2, float64(1+ge) / float64(1+perms)
}

// medianSqDist returns the median squared distance between the pairs of
// up to 200 points of z: the bandwidth of the median heuristic.
func medianSqDist(z [][]float32) float64 {
	if len(z) > 200 {
		z = z[:200]
	}
	var d []float64
	for i := range z {
		for j := i + 1; j < len(z); j++ {
			d = append(d, sqDist(z[i], z[j]))
		}
	}
	if len(d) == 0 {
		return 1
	}
	slices.Sort(d)
	if m := d[len(d)/2]; m > 0 {
		return m
	}
	return 1
}

func sqDist(x, y []float32) float64 {
	var s float64
	for i := range x {
		d := float64(x[i] - y[i])
		s += d * d
	}
	return s
}
