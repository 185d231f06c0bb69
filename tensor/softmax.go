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
	for j, v := range src {
		e := math.Exp(float64(v) - m)
		dst[j] = float32(e)
		s += e
	}
	inv := 1 / s
	for j := range dst {
		dst[j] = float32(float64(dst[j]) * inv)
	}
}

func logSoftmaxRow(dst, src []float32) {
	m := rowMax(src)
	var s float64
	for _, v := range src {
		s += math.Exp(float64(v) - m)
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
