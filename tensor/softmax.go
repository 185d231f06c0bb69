package tensor

import (
	"fmt"
	"math"
)

// Row-wise softmax kernels for the last dimension of a [rows, cols] matrix.
// Each row is shifted by its maximum before exponentiation, so large logits
// neither overflow nor lose the small ones, and sums run in float64. A row
// whose entries are all -Inf has no defined softmax; like PyTorch, the
// kernels write NaN there.
//
// Exponentials use Exp32, a float32 exp about twice as fast as math.Exp and
// within 1e-7 relative of it: softmax, sigmoid and GELU evaluate one per
// element, and at float32 precision math.Exp's extra digits are discarded.

// SoftmaxRows writes the softmax of each row of src into dst:
//
//	dst[i,j] = exp(src[i,j] - max_j src[i,:]) / sum_k exp(src[i,k] - max_j src[i,:])
//
// src and dst hold rows*cols values and may be the same slice.
func SoftmaxRows(dst, src []float32, rows, cols int) {
	checkRows("SoftmaxRows", dst, src, rows, cols)
	Parallel(rows, rowGrain(cols), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			softmaxRow(dst[i*cols:(i+1)*cols], src[i*cols:(i+1)*cols])
		}
	})
}

// LogSoftmaxRows writes the log-softmax of each row of src into dst:
//
//	dst[i,j] = (src[i,j] - max) - log(sum_k exp(src[i,k] - max))
//
// src and dst hold rows*cols values and may be the same slice.
func LogSoftmaxRows(dst, src []float32, rows, cols int) {
	checkRows("LogSoftmaxRows", dst, src, rows, cols)
	Parallel(rows, rowGrain(cols), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			logSoftmaxRow(dst[i*cols:(i+1)*cols], src[i*cols:(i+1)*cols])
		}
	})
}

// SoftmaxRowsBackward writes into dx the gradient through a row-wise
// softmax whose output was y, given dy, the gradient with respect to y:
//
//	dx[i,j] = y[i,j] * (dy[i,j] - sum_k dy[i,k]*y[i,k])
//
// dx may be the same slice as dy.
func SoftmaxRowsBackward(dx, y, dy []float32, rows, cols int) {
	checkRows("SoftmaxRowsBackward", dx, y, rows, cols)
	checkRows("SoftmaxRowsBackward", dx, dy, rows, cols)
	Parallel(rows, rowGrain(cols), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			yr, dyr, dxr := y[i*cols:(i+1)*cols], dy[i*cols:(i+1)*cols], dx[i*cols:(i+1)*cols]
			var s float64
			for j, v := range yr {
				s += float64(v) * float64(dyr[j])
			}
			for j, v := range yr {
				dxr[j] = v * (dyr[j] - float32(s))
			}
		}
	})
}

func softmaxRow(dst, src []float32) {
	m := rowMax(src)
	var s float64
	mf := float32(m)
	for j, v := range src {
		e := Exp32(v - mf)
		dst[j] = e
		s += float64(e)
	}
	inv := 1 / s
	for j := range dst {
		dst[j] = float32(float64(dst[j]) * inv)
	}
}

func logSoftmaxRow(dst, src []float32) {
	m := rowMax(src)
	var s float64
	mf := float32(m)
	for _, v := range src {
		s += float64(Exp32(v - mf))
	}
	// (v - m) - log s, not v - (m + log s): with m = -1e30 the second
	// form would lose log s entirely.
	ls := math.Log(s)
	for j, v := range src {
		dst[j] = float32((float64(v) - m) - ls)
	}
}

// rowMax returns the largest value of r as float64. For a row of -Inf only
// it returns -Inf, which makes the callers produce NaN (0/0, -Inf+Inf).
func rowMax(r []float32) float64 {
	m := math.Inf(-1)
	for _, v := range r {
		if float64(v) > m {
			m = float64(v)
		}
	}
	return m
}

// rowGrain picks how many rows one parallel chunk takes so that each chunk
// does some thousands of exponentials.
func rowGrain(cols int) int { return max(1, 4096/max(cols, 1)) }

func checkRows(op string, dst, src []float32, rows, cols int) {
	if rows < 0 || cols < 0 || len(dst) < rows*cols || len(src) < rows*cols {
		panic(fmt.Sprintf("tensor: %s: %d×%d rows with slices of %d and %d values", op, rows, cols, len(dst), len(src)))
	}
}

// Exp32 returns e^x in float32, with a relative error below 1e-7 (Cephes'
// expf: x = n·ln2 + r with |r| ≤ ln2/2, a degree-7 polynomial for e^r, then
// a scale by 2^n). Arguments whose result would overflow, be denormal or
// be NaN go to math.Exp, so Exp32 agrees with it at the edges.
func Exp32(x float32) float32 {
	if !(x >= -87.33654 && x <= 88.72283) {
		return float32(math.Exp(float64(x)))
	}
	// Adding 1.5·2²³ rounds x·log₂e to the nearest integer n, which then
	// sits in the low mantissa bits.
	const magic = 12582912
	z := x*math.Log2E + magic
	n := int32(math.Float32bits(z)) - int32(math.Float32bits(magic))
	fn := z - magic
	// ln2 split in two so that fn·ln2Hi is exact.
	r := x - fn*0.693359375
	r -= fn * -2.12194440e-4
	p := ((((1.9875691500e-4*r+1.3981999507e-3)*r+8.3334519073e-3)*r+4.1665795894e-2)*r+1.6666665459e-1)*r + 5.0000001201e-1
	p = p*r*r + r + 1
	if n > 127 { // 2¹²⁸ is not a float32; p < 1 here keeps the result finite
		return p * 2 * math.Float32frombits(uint32(n-1+127)<<23)
	}
	return p * math.Float32frombits(uint32(n+127)<<23)
}
