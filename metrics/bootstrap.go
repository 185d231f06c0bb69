package metrics

import (
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
)

// Options controls Evaluate and EvaluateMultiLabel. The zero value asks for
// 1000 bootstrap resamples, 95% intervals, 15 calibration bins and ROC
// curves of at most 200 points.
type Options struct {
	Resamples int     // bootstrap resamples; 0 means 1000, negative means no intervals
	Seed      uint64  // seed of the bootstrap; the same seed gives the same intervals
	Level     float64 // confidence level of the intervals; 0 means 0.95
	Bins      int     // equal-width calibration bins; 0 means 15 (Guo et al. 2017)
	ROCPoints int     // most points kept per ROC curve; 0 means 200, negative means no curves
	Threshold float64 // multi-label: a label is predicted when p > Threshold; 0 means 0.5
	Workers   int     // goroutines for the bootstrap; 0 means GOMAXPROCS
}

func (o Options) withDefaults() Options {
	if o.Resamples == 0 {
		o.Resamples = 1000
	}
	if o.Resamples < 0 {
		o.Resamples = 0
	}
	if o.Level == 0 {
		o.Level = 0.95
	}
	if o.Bins <= 0 {
		o.Bins = 15
	}
	if o.ROCPoints == 0 {
		o.ROCPoints = 200
	}
	if o.Threshold == 0 {
		o.Threshold = 0.5
	}
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	return o
}

// statFunc computes m statistics of the samples under weights w into out.
// Each bootstrap worker gets its own statFunc, so it may keep scratch space.
type statFunc func(w []float64, out []float64)

// bootstrap draws o.Resamples resamples of n samples with replacement and
// returns, for each of the m statistics, the percentile interval at level
// o.Level. Resample b uses its own PCG stream seeded with (o.Seed, b), so
// the result does not depend on the number of workers. Resamples in which a
// statistic is NaN (undefined) are left out of that statistic's interval.
func bootstrap(n, m int, o Options, newStat func() statFunc) []Interval {
	out := make([]Interval, m)
	if o.Resamples == 0 || n == 0 {
		for j := range out {
			out[j] = noInterval
		}
		return out
	}
	B := o.Resamples
	vals := make([]float64, B*m)
	workers := min(o.Workers, B)
	var wg sync.WaitGroup
	for wk := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stat := newStat()
			w := make([]float64, n)
			for b := wk; b < B; b += workers {
				clear(w)
				rng := rand.New(rand.NewPCG(o.Seed, uint64(b)))
				for range n {
					w[rng.IntN(n)]++
				}
				stat(w, vals[b*m:(b+1)*m])
			}
		}()
	}
	wg.Wait()
	col := make([]float64, 0, B)
	alpha := (1 - o.Level) / 2
	for j := range m {
		col = col[:0]
		for b := range B {
			if v := vals[b*m+j]; !math.IsNaN(v) {
				col = append(col, v)
			}
		}
		if len(col) == 0 {
			out[j] = noInterval
			continue
		}
		slices.Sort(col)
		out[j] = Interval{quantile(col, alpha), quantile(col, 1-alpha)}
	}
	return out
}

// edgeInterval returns the exact (Clopper-Pearson) interval for a
// proportion estimated as 0 or 1 from n trials, where every bootstrap
// resample repeats the estimate and the percentile interval collapses to a
// point: [(a/2)^(1/n), 1] for all successes, [0, 1-(a/2)^(1/n)] for none,
// with a = 1 - level. Any other estimate keeps the bootstrap interval iv.
func edgeInterval(p float64, n int, level float64, iv Interval) Interval {
	if n <= 0 || !iv.Valid() {
		return iv
	}
	b := math.Pow((1-level)/2, 1/float64(n))
	switch p {
	case 1:
		return Interval{b, 1}
	case 0:
		return Interval{0, 1 - b}
	}
	return iv
}

// quantile returns the q-quantile of sorted x by linear interpolation
// between order statistics (NumPy's default, "linear").
func quantile(x []float64, q float64) float64 {
	pos := q * float64(len(x)-1)
	lo := int(math.Floor(pos))
	if lo >= len(x)-1 {
		return x[len(x)-1]
	}
	f := pos - float64(lo)
	return x[lo] + f*(x[lo+1]-x[lo])
}

// mean returns the mean of the numbers in x that are not NaN, or NaN if none.
func nanMean(x []float64) float64 {
	var s float64
	k := 0
	for _, v := range x {
		if !math.IsNaN(v) {
			s += v
			k++
		}
	}
	if k == 0 {
		return math.NaN()
	}
	return s / float64(k)
}

// ratio returns a/b, or NaN when b is 0.
func ratio(a, b float64) float64 {
	if b == 0 {
		return math.NaN()
	}
	return a / b
}
