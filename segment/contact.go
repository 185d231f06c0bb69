package segment

import (
	"math"
	"slices"
)

// contactSigma is σ of U-Net's separation weight, in pixels: the width of
// the band around a contact between objects that the loss weighs up. It is
// the value of Ronneberger et al. (2015), whose cells were of the size of
// the Data Science Bowl's nuclei.
const contactSigma = 5

// contactMap returns, for each pixel of l, the separation term of U-Net's
// loss weight map (Ronneberger et al. 2015, eq. 2) without its factor w0:
//
//	exp(−(d1 + d2)² / (2σ²))
//
// where d1 and d2 are the Euclidean distances from the pixel to the
// nearest and the second-nearest object (0 to the object it lies in), and
// σ is contactSigma. The term is near 1 along contacts between touching
// objects and in narrow gaps between neighbours, the pixels that decide
// whether two nuclei stay apart, and near 0 wherever one object is alone.
// Values are quantised to 0..255.
//
// Each object's distance transform is computed only in its bounding box
// widened by 4σ (beyond which the term is below e⁻⁸), with the exact
// squared distance transform of Felzenszwalb and Huttenlocher (2012).
func contactMap(l *Labels, sigma float64) []uint8 {
	w, h := l.W, l.H
	reach := int(math.Ceil(4 * sigma))
	type box struct{ x0, y0, x1, y1 int }
	boxes := map[int32]*box{}
	for y := range h {
		for x := range w {
			v := l.Pix[y*w+x]
			if v == 0 {
				continue
			}
			b := boxes[v]
			if b == nil {
				boxes[v] = &box{x, y, x, y}
				continue
			}
			b.x0, b.x1 = min(b.x0, x), max(b.x1, x)
			b.y0, b.y1 = min(b.y0, y), max(b.y1, y)
		}
	}
	inf := math.Inf(1)
	d1 := make([]float64, w*h)
	d2 := make([]float64, w*h)
	for i := range d1 {
		d1[i], d2[i] = inf, inf
	}
	var f, col []float64
	var scratch edtScratch
	for v, b := range boxes {
		x0, y0 := max(b.x0-reach, 0), max(b.y0-reach, 0)
		x1, y1 := min(b.x1+reach, w-1), min(b.y1+reach, h-1)
		bw, bh := x1-x0+1, y1-y0+1
		f = f[:0]
		for y := y0; y <= y1; y++ {
			for x := x0; x <= x1; x++ {
				if l.Pix[y*w+x] == v {
					f = append(f, 0)
				} else {
					f = append(f, edtFar)
				}
			}
		}
		// Squared distances: along each column, then along each row.
		col = resize(col, bh)
		for x := range bw {
			for y := range bh {
				col[y] = f[y*bw+x]
			}
			scratch.transform(col)
			for y := range bh {
				f[y*bw+x] = col[y]
			}
		}
		for y := range bh {
			scratch.transform(f[y*bw : (y+1)*bw])
		}
		for y := range bh {
			for x := range bw {
				d := math.Sqrt(f[y*bw+x])
				if d > float64(reach) {
					continue
				}
				i := (y0+y)*w + x0 + x
				if d < d1[i] {
					d1[i], d2[i] = d, d1[i]
				} else if d < d2[i] {
					d2[i] = d
				}
			}
		}
	}
	out := make([]uint8, w*h)
	for i := range out {
		if s := d1[i] + d2[i]; !math.IsInf(s, 1) {
			out[i] = uint8(255*math.Exp(-s*s/(2*sigma*sigma)) + 0.5)
		}
	}
	return out
}

// edtFar stands for an infinite squared distance in the transform: larger
// than any squared distance in an image, finite so that the parabolas'
// intersections stay numbers.
const edtFar = 1e20

// resize returns b with length n, reusing its array when large enough;
// the values are left for the caller to overwrite.
func resize[T any](b []T, n int) []T { return slices.Grow(b[:0], n)[:n] }

// edtScratch holds the buffers of the 1-D transform.
type edtScratch struct {
	v []int
	z []float64
	d []float64
}

// transform replaces f, a sampled function, by its 1-D squared distance
// transform min_q (p−q)² + f(q): the lower envelope of parabolas rooted at
// each sample (Felzenszwalb and Huttenlocher 2012, algorithm 1).
func (s *edtScratch) transform(f []float64) {
	n := len(f)
	s.v, s.z, s.d = resize(s.v, n), resize(s.z, n+1), resize(s.d, n)
	v, z := s.v, s.z
	k := 0
	v[0], z[0], z[1] = 0, math.Inf(-1), math.Inf(1)
	cross := func(q, p int) float64 { // where q's parabola meets p's
		return ((f[q] + float64(q*q)) - (f[p] + float64(p*p))) / float64(2*(q-p))
	}
	for q := 1; q < n; q++ {
		x := cross(q, v[k])
		for x <= z[k] { // z[0] = −∞ stops this at k = 0
			k--
			x = cross(q, v[k])
		}
		k++
		v[k], z[k], z[k+1] = q, x, math.Inf(1)
	}
	k = 0
	for q := range n {
		for z[k+1] < float64(q) {
			k++
		}
		dq := float64(q - v[k])
		s.d[q] = dq*dq + f[v[k]]
	}
	copy(f, s.d)
}
