package explain

import (
	"errors"
	"math"
)

// weightedRidge fits y ~ b + X beta by weighted ridge regression: it
// minimises sum_i w_i (y_i - b - X_i . beta)^2 + lambda |beta|^2, with the
// intercept b unpenalised (and zero unless intercept). X is n rows of d
// values. The normal equations are solved by Cholesky factorisation; a
// lambda of 0 gets a tiny ridge when they are singular.
func weightedRidge(X []float64, y, w []float64, d int, lambda float64, intercept bool) (beta []float64, b float64, err error) {
	n := len(y)
	if len(X) != n*d || len(w) != n {
		panic("explain: weightedRidge: mismatched sizes")
	}
	var sw float64
	for _, v := range w {
		sw += v
	}
	if sw <= 0 {
		return nil, 0, errors.New("explain: regression with no weight")
	}
	// Weighted means, removed when fitting an intercept.
	mx := make([]float64, d)
	var my float64
	if intercept {
		for i := range n {
			for j := range d {
				mx[j] += w[i] * X[i*d+j]
			}
			my += w[i] * y[i]
		}
		for j := range mx {
			mx[j] /= sw
		}
		my /= sw
	}
	a := make([]float64, d*d)
	rhs := make([]float64, d)
	row := make([]float64, d)
	for i := range n {
		for j := range d {
			row[j] = X[i*d+j] - mx[j]
		}
		yi := y[i] - my
		for j := range d {
			wr := w[i] * row[j]
			rhs[j] += wr * yi
			for k := 0; k <= j; k++ {
				a[j*d+k] += wr * row[k]
			}
		}
	}
	var trace float64
	for j := range d {
		trace += a[j*d+j]
	}
	for _, ridge := range []float64{lambda, lambda + 1e-9*math.Max(trace, 1), lambda + 1e-6*math.Max(trace, 1)} {
		beta, ok := choleskySolve(a, rhs, d, ridge)
		if !ok {
			continue
		}
		b = my
		for j := range d {
			b -= mx[j] * beta[j]
		}
		return beta, b, nil
	}
	return nil, 0, errors.New("explain: the regression is singular")
}

// choleskySolve solves (A + ridge I) x = rhs for symmetric A given by its
// lower triangle (d x d, row-major). It reports false if the matrix is not
// positive definite.
func choleskySolve(a, rhs []float64, d int, ridge float64) ([]float64, bool) {
	l := make([]float64, d*d)
	for j := range d {
		for k := 0; k <= j; k++ {
			s := a[j*d+k]
			if j == k {
				s += ridge
			}
			for m := range k {
				s -= l[j*d+m] * l[k*d+m]
			}
			if j == k {
				if s <= 0 || math.IsNaN(s) {
					return nil, false
				}
				l[j*d+j] = math.Sqrt(s)
			} else {
				l[j*d+k] = s / l[k*d+k]
			}
		}
	}
	x := make([]float64, d)
	for j := range d { // L z = rhs
		s := rhs[j]
		for m := range j {
			s -= l[j*d+m] * x[m]
		}
		x[j] = s / l[j*d+j]
	}
	for j := d - 1; j >= 0; j-- { // L^T x = z
		s := x[j]
		for m := j + 1; m < d; m++ {
			s -= l[m*d+j] * x[m]
		}
		x[j] = s / l[j*d+j]
	}
	return x, true
}
