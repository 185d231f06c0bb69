package audit

import (
	"math"
	"math/rand/v2"
	"slices"

	"github.com/deepscope/deepscope/metrics"
)

// counts holds, per group, the confusion counts of the images: conf[g] is
// a k×k matrix in row-major order, rows the true class, columns the
// predicted one. Every rate an audit reports is a function of them.
type counts struct {
	k       int
	labels  []int
	pred    []int
	members [][]int // image indices per group
	conf    [][]int
}

func newCounts(labels, pred []int, members [][]int, k int) *counts {
	c := &counts{k: k, labels: labels, pred: pred, members: members}
	for _, idx := range members {
		m := make([]int, k*k)
		for _, i := range idx {
			m[labels[i]*k+pred[i]]++
		}
		c.conf = append(c.conf, m)
	}
	return c
}

// bootstrap returns the confusion counts of each resample and group:
// out[b][g]. Resample b draws every group's images with replacement, group
// by group, from its own stream seeded with (seed, b), so the result does
// not depend on anything but the seed.
func (c *counts) bootstrap(resamples int, seed uint64) [][][]int {
	out := make([][][]int, resamples)
	for b := range out {
		rng := rand.New(rand.NewPCG(seed, uint64(b)))
		out[b] = make([][]int, len(c.members))
		for g, idx := range c.members {
			m := make([]int, c.k*c.k)
			for range idx {
				i := idx[rng.IntN(len(idx))]
				m[c.labels[i]*c.k+c.pred[i]]++
			}
			out[b][g] = m
		}
	}
	return out
}

// rate computes one per-class rate from a group's confusion counts; it
// returns the rate and its denominator (NaN when that is 0).
type rate func(conf []int, k, c int) (float64, int)

func rowSum(conf []int, k, r int) int {
	s := 0
	for _, v := range conf[r*k : (r+1)*k] {
		s += v
	}
	return s
}

func colSum(conf []int, k, c int) int {
	s := 0
	for r := range k {
		s += conf[r*k+c]
	}
	return s
}

func total(conf []int) int {
	s := 0
	for _, v := range conf {
		s += v
	}
	return s
}

func frac(a, b int) float64 {
	if b == 0 {
		return math.NaN()
	}
	return float64(a) / float64(b)
}

// selection is P(ŷ=c): how often the group is predicted to be class c.
func selection(conf []int, k, c int) (float64, int) {
	n := total(conf)
	return frac(colSum(conf, k, c), n), n
}

// tpr is P(ŷ=c | y=c), the recall of class c.
func tpr(conf []int, k, c int) (float64, int) {
	pos := rowSum(conf, k, c)
	return frac(conf[c*k+c], pos), pos
}

// fpr is P(ŷ=c | y≠c).
func fpr(conf []int, k, c int) (float64, int) {
	neg := total(conf) - rowSum(conf, k, c)
	return frac(colSum(conf, k, c)-conf[c*k+c], neg), neg
}

// accuracy is the fraction of the group predicted right (c is unused).
func accuracy(conf []int, k, _ int) (float64, int) {
	right := 0
	for c := range k {
		right += conf[c*k+c]
	}
	n := total(conf)
	return frac(right, n), n
}

// rateEstimate returns a rate of group g and class c with its interval
// over the resamples boot.
func rateEstimate(conf []int, boot [][][]int, g, k, c int, f rate, cfg Config) Estimate {
	v, n := f(conf, k, c)
	if len(boot) == 0 {
		return Estimate{v, noInterval}
	}
	vals := make([]float64, 0, len(boot))
	for _, b := range boot {
		vals = append(vals, must(f(b[g], k, c)))
	}
	return Estimate{v, edge(v, n, cfg.Level, percentile(vals, cfg.Level))}
}

func must(v float64, _ int) float64 { return v }

var noInterval = metrics.Interval{math.NaN(), math.NaN()}

// percentile returns the percentile interval of the numbers in vals that
// are not NaN (vals is reordered), or no interval if there are none.
func percentile(vals []float64, level float64) metrics.Interval {
	vals = slices.DeleteFunc(vals, math.IsNaN)
	if len(vals) == 0 {
		return noInterval
	}
	slices.Sort(vals)
	a := (1 - level) / 2
	return metrics.Interval{quantile(vals, a), quantile(vals, 1-a)}
}

// quantile of sorted x by linear interpolation (NumPy's default).
func quantile(x []float64, q float64) float64 {
	pos := q * float64(len(x)-1)
	lo := int(math.Floor(pos))
	if lo >= len(x)-1 {
		return x[len(x)-1]
	}
	f := pos - float64(lo)
	return x[lo] + f*(x[lo+1]-x[lo])
}

// edge replaces the collapsed interval of a proportion estimated as 0 or 1
// from n trials by the exact Clopper-Pearson one.
func edge(p float64, n int, level float64, iv metrics.Interval) metrics.Interval {
	if n <= 0 || !iv.Valid() {
		return iv
	}
	b := math.Pow((1-level)/2, 1/float64(n))
	switch p {
	case 1:
		return metrics.Interval{b, 1}
	case 0:
		return metrics.Interval{0, 1 - b}
	}
	return iv
}
