package transform

import "math"

// Small dense linear algebra for colour work: 3-vectors, 3x3 matrices and
// the symmetric eigenproblem that Macenko's method needs.

type vec3 [3]float64

type mat3 [3][3]float64

// leftMul returns the row vector v times m.
func (m mat3) leftMul(v vec3) vec3 {
	var o vec3
	for c := range 3 {
		o[c] = v[0]*m[0][c] + v[1]*m[1][c] + v[2]*m[2][c]
	}
	return o
}

func (m mat3) det() float64 {
	return m[0][0]*(m[1][1]*m[2][2]-m[1][2]*m[2][1]) -
		m[0][1]*(m[1][0]*m[2][2]-m[1][2]*m[2][0]) +
		m[0][2]*(m[1][0]*m[2][1]-m[1][1]*m[2][0])
}

// inverse returns m⁻¹; m must be invertible.
func (m mat3) inverse() mat3 {
	d := m.det()
	var o mat3
	for r := range 3 {
		for c := range 3 {
			// cofactor of (c, r), i.e. the adjugate
			r1, r2 := (c+1)%3, (c+2)%3
			c1, c2 := (r+1)%3, (r+2)%3
			o[r][c] = (m[r1][c1]*m[r2][c2] - m[r1][c2]*m[r2][c1]) / d
		}
	}
	return o
}

func (v vec3) dot(u vec3) float64 { return v[0]*u[0] + v[1]*u[1] + v[2]*u[2] }

func (v vec3) norm() float64 { return math.Sqrt(v.dot(v)) }

func (v vec3) scale(s float64) vec3 { return vec3{v[0] * s, v[1] * s, v[2] * s} }

// symEigen returns the eigenvalues of the symmetric matrix a in descending
// order and the matching unit eigenvectors, by cyclic Jacobi rotations.
func symEigen(a mat3) (vals vec3, vecs [3]vec3) {
	v := mat3{{1, 0, 0}, {0, 1, 0}, {0, 0, 1}}
	for range 50 {
		off := a[0][1]*a[0][1] + a[0][2]*a[0][2] + a[1][2]*a[1][2]
		if off < 1e-30 {
			break
		}
		for p := range 2 {
			for q := p + 1; q < 3; q++ {
				if a[p][q] == 0 {
					continue
				}
				theta := (a[q][q] - a[p][p]) / (2 * a[p][q])
				t := math.Copysign(1, theta) / (math.Abs(theta) + math.Sqrt(theta*theta+1))
				c := 1 / math.Sqrt(t*t+1)
				s := t * c
				for k := range 3 { // a = Jᵀ a J
					akp, akq := a[k][p], a[k][q]
					a[k][p] = c*akp - s*akq
					a[k][q] = s*akp + c*akq
				}
				for k := range 3 {
					apk, aqk := a[p][k], a[q][k]
					a[p][k] = c*apk - s*aqk
					a[q][k] = s*apk + c*aqk
				}
				for k := range 3 {
					vkp, vkq := v[k][p], v[k][q]
					v[k][p] = c*vkp - s*vkq
					v[k][q] = s*vkp + c*vkq
				}
			}
		}
	}
	idx := [3]int{0, 1, 2}
	for i := range 3 {
		for j := i + 1; j < 3; j++ {
			if a[idx[j]][idx[j]] > a[idx[i]][idx[i]] {
				idx[i], idx[j] = idx[j], idx[i]
			}
		}
	}
	for i, k := range idx {
		vals[i] = a[k][k]
		vecs[i] = vec3{v[0][k], v[1][k], v[2][k]}
	}
	return vals, vecs
}
