package tboard

import (
	"math"
	"slices"
	"sync"
)

// Histogram is the content of a histogram summary, as TensorBoard's
// HistogramProto holds it. Bucket i counts the values v with
// BucketLimit[i-1] <= v < BucketLimit[i]; the first bucket starts at Min.
type Histogram struct {
	Min, Max, Num, Sum, SumSquares float64
	BucketLimit                    []float64 // right edge of each bucket
	Bucket                         []float64 // count in each bucket
}

// defaultLimits returns TensorFlow's default bucket edges: ±1e-12 growing by
// 10% per bucket up to ±1e20, then ±MaxFloat64, with 0 in the middle. About
// 1550 edges.
var defaultLimits = sync.OnceValue(func() []float64 {
	var pos []float64
	for v := 1e-12; v < 1e20; v *= 1.1 {
		pos = append(pos, v)
	}
	pos = append(pos, math.MaxFloat64)
	lim := make([]float64, 0, 2*len(pos)+1)
	for _, v := range slices.Backward(pos) {
		lim = append(lim, -v)
	}
	lim = append(lim, 0)
	return append(lim, pos...)
})

// newHistogram bins the finite values of vs into TensorFlow's default
// buckets, keeping those from the first to the last non-empty one with each
// run of empty buckets merged into one. NaN and infinite values are skipped
// (not counted in Num). It reports false when no finite value remains.
func newHistogram(vs []float32) (Histogram, bool) {
	lim := defaultLimits()
	counts := make([]float64, len(lim))
	h := Histogram{Min: math.Inf(1), Max: math.Inf(-1)}
	for _, v32 := range vs {
		v := float64(v32)
		if math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		h.Min, h.Max = min(h.Min, v), max(h.Max, v)
		h.Num++
		h.Sum += v
		h.SumSquares += v * v
		counts[bucketOf(lim, v)]++
	}
	if h.Num == 0 {
		return Histogram{}, false
	}
	lo := slices.IndexFunc(counts, func(c float64) bool { return c > 0 })
	hi := len(counts) - 1
	for counts[hi] == 0 {
		hi--
	}
	// Keep the buckets from the first to the last non-empty one, each run
	// of empty buckets collapsed into one, as TensorFlow's encoder does.
	for i := lo; i <= hi; i++ {
		for counts[i] == 0 && counts[i+1] == 0 {
			i++
		}
		h.BucketLimit = append(h.BucketLimit, lim[i])
		h.Bucket = append(h.Bucket, counts[i])
	}
	return h, true
}

// bucketOf returns the index of the first edge in lim (defaultLimits)
// strictly greater than the finite value v. The edges grow by 10% away from
// 0 (lim[mid±1] = ±1e-12), so log1.1(|v|/1e-12) gives the index; a cheap
// log2 read from the float's bits (exponent plus mantissa-1, off by at most
// 0.09) brings it within a bucket or two, and the loops settle it against
// the exact edges.
func bucketOf(lim []float64, v float64) int {
	const log2Min, log2Step = -39.863137138648348, 0.13750352374993502 // log2(1e-12), log2(1.1)
	mid := len(lim) / 2
	i := mid + 1
	if a := math.Abs(v); a >= 1e-12 {
		b := math.Float64bits(a)
		log2 := float64(int(b>>52)-1023) + float64(b&(1<<52-1))/(1<<52)
		j := int((log2 - log2Min) / log2Step)
		if v > 0 {
			i = min(mid+2+j, len(lim)-1)
		} else {
			i = max(mid-1-j, 0)
		}
	}
	for lim[i] <= v {
		i++
	}
	for i > 0 && lim[i-1] > v {
		i--
	}
	return i
}

// encode writes h as a HistogramProto.
func (h *Histogram) encode(e *enc) {
	e.double(1, h.Min)
	e.double(2, h.Max)
	e.double(3, h.Num)
	e.double(4, h.Sum)
	e.double(5, h.SumSquares)
	e.packedDoubles(6, h.BucketLimit)
	e.packedDoubles(7, h.Bucket)
}

// decodeHistogram parses a HistogramProto.
func decodeHistogram(p []byte) (*Histogram, error) {
	h := new(Histogram)
	d := dec{p}
	for len(d.b) > 0 {
		f, w, v, b, err := d.next()
		if err != nil {
			return nil, err
		}
		x := math.Float64frombits(v)
		switch {
		case f >= 1 && f <= 5 && w != wireFixed64:
			return nil, errProto
		case f == 1:
			h.Min = x
		case f == 2:
			h.Max = x
		case f == 3:
			h.Num = x
		case f == 4:
			h.Sum = x
		case f == 5:
			h.SumSquares = x
		case f == 6:
			h.BucketLimit, err = doubles(h.BucketLimit, w, v, b)
		case f == 7:
			h.Bucket, err = doubles(h.Bucket, w, v, b)
		}
		if err != nil {
			return nil, err
		}
	}
	return h, nil
}
