package tensor

import "fmt"

// Axpy adds alpha*x to y element-wise; x and y must have equal lengths.
//
//	for i, v := range x { y[i] += alpha * v }
func Axpy(alpha float32, x, y []float32) {
	if len(x) != len(y) {
		panic(fmt.Sprintf("tensor: Axpy lengths %d and %d", len(x), len(y)))
	}
	axpy(alpha, x, y)
}

// Dot returns the dot product of x and y, which must have equal lengths.
// The sum is accumulated in float32, in an order that may differ from the
// plain loop:
//
//	for i, v := range x { s += v * y[i] }
func Dot(x, y []float32) float32 {
	if len(x) != len(y) {
		panic(fmt.Sprintf("tensor: Dot lengths %d and %d", len(x), len(y)))
	}
	if useAVX2 {
		return dotAVX2(x, y)
	}
	return dotGo(x, y)
}

// Scale multiplies every element of x by alpha.
//
//	for i := range x { x[i] *= alpha }
func Scale(alpha float32, x []float32) {
	if useAVX2 {
		scaleAVX2(alpha, x)
		return
	}
	scaleGo(alpha, x)
}

// Add stores a+b in dst element-wise; the three must have equal lengths.
// dst may be a or b.
//
//	for i := range dst { dst[i] = a[i] + b[i] }
func Add(dst, a, b []float32) {
	if len(a) != len(dst) || len(b) != len(dst) {
		panic(fmt.Sprintf("tensor: Add lengths %d, %d and %d", len(dst), len(a), len(b)))
	}
	if useAVX2 {
		addAVX2(dst, a, b)
		return
	}
	addGo(dst, a, b)
}

// axpy is Axpy without the length check; len(y) >= len(x).
func axpy(alpha float32, x, y []float32) {
	if useAVX2 {
		axpyAVX2(alpha, x, y)
		return
	}
	axpyGo(alpha, x, y)
}

// axpyGo is the pure-Go twin of axpyAVX2.
//
//	for i, v := range x { y[i] += alpha * v }
func axpyGo(alpha float32, x, y []float32) {
	y = y[:len(x)]
	for i, v := range x {
		y[i] += alpha * v
	}
}

// dotGo is the pure-Go twin of dotAVX2, with four partial sums.
//
//	for i, v := range x { s += v * y[i] }
func dotGo(x, y []float32) float32 {
	y = y[:len(x)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(x); i += 4 {
		s0 += x[i] * y[i]
		s1 += x[i+1] * y[i+1]
		s2 += x[i+2] * y[i+2]
		s3 += x[i+3] * y[i+3]
	}
	for ; i < len(x); i++ {
		s0 += x[i] * y[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// scaleGo is the pure-Go twin of scaleAVX2.
//
//	for i := range x { x[i] *= alpha }
func scaleGo(alpha float32, x []float32) {
	for i := range x {
		x[i] *= alpha
	}
}

// addGo is the pure-Go twin of addAVX2.
//
//	for i := range dst { dst[i] = a[i] + b[i] }
func addGo(dst, a, b []float32) {
	a = a[:len(dst)]
	b = b[:len(dst)]
	for i := range dst {
		dst[i] = a[i] + b[i]
	}
}
