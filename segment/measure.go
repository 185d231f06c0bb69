package segment

import (
	"fmt"
	"math"

	"github.com/deepscope/deepscope/tensor"
)

// Object holds the measurements of one labelled object, defined as
// scikit-image's regionprops (and so CellProfiler's MeasureObjectSizeShape)
// defines them, in pixels.
type Object struct {
	ID        int32   // its label
	Area      int     // pixels
	Perimeter float64 // see Measure
	// X and Y are the centroid: the mean column and row of its pixels,
	// pixel centres at integer coordinates.
	X, Y float64
	// Eccentricity of the ellipse with the same second moments: 0 for a
	// disc, approaching 1 as the object elongates.
	Eccentricity float64
	// MeanIntensity is the mean grey value of the image over the object,
	// in [0, 1] (luminance 0.299 R + 0.587 G + 0.114 B for colour images).
	MeanIntensity float64
}

// perimeterWeights maps the code of a boundary pixel (1 + 2 per boundary
// neighbour across an edge + 10 per boundary neighbour across a corner) to
// the length it contributes: scikit-image's measure.perimeter with
// 4-connectivity.
var perimeterWeights = func() (w [50]float64) {
	for _, i := range []int{5, 7, 15, 17, 25, 27} {
		w[i] = 1
	}
	w[21], w[33] = math.Sqrt2, math.Sqrt2
	w[13], w[23] = (1+math.Sqrt2)/2, (1+math.Sqrt2)/2
	return
}()

// Measure returns the objects of l in label order with their area,
// perimeter, centroid, eccentricity and mean intensity in img ([H, W, C]
// in [0, 1], the same size as l; nil leaves MeanIntensity 0).
//
// The perimeter is scikit-image's: an object's boundary pixels are those
// with a 4-neighbour outside it, and each adds 1, √2 or (1+√2)/2 according
// to how its boundary neighbours lie, which approximates the length of the
// contour through their centres (2πr − a little for a disc of radius r).
func Measure(l *Labels, img *tensor.Tensor) []Object {
	var grey []float32
	if img != nil {
		if img.Dim(0) != l.H || img.Dim(1) != l.W {
			panic(fmt.Sprintf("segment: Measure: image %v for labels %dx%d", img.Shape, l.W, l.H))
		}
		grey = greyPlane(img)
	}
	type acc struct {
		n                     int
		sx, sy, sxx, syy, sxy float64
		si, perim             float64
	}
	accs := make([]acc, l.Max()+1)
	w, h := l.W, l.H
	inside := func(x, y int, v int32) bool { return x >= 0 && y >= 0 && x < w && y < h && l.Pix[y*w+x] == v }
	edge := func(x, y int, v int32) bool {
		return inside(x, y, v) && !(inside(x-1, y, v) && inside(x+1, y, v) && inside(x, y-1, v) && inside(x, y+1, v))
	}
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			v := l.Pix[y*w+x]
			if v <= 0 {
				continue
			}
			a := &accs[v]
			fx, fy := float64(x), float64(y)
			a.n++
			a.sx += fx
			a.sy += fy
			a.sxx += fx * fx
			a.syy += fy * fy
			a.sxy += fx * fy
			if grey != nil {
				a.si += float64(grey[y*w+x])
			}
			if !edge(x, y, v) {
				continue
			}
			code := 1
			for _, d := range [4][2]int{{-1, 0}, {1, 0}, {0, -1}, {0, 1}} {
				if edge(x+d[0], y+d[1], v) {
					code += 2
				}
			}
			for _, d := range [4][2]int{{-1, -1}, {1, -1}, {-1, 1}, {1, 1}} {
				if edge(x+d[0], y+d[1], v) {
					code += 10
				}
			}
			a.perim += perimeterWeights[code]
		}
	}
	var out []Object
	for v, a := range accs {
		if v == 0 || a.n == 0 {
			continue
		}
		n := float64(a.n)
		cx, cy := a.sx/n, a.sy/n
		cxx, cyy, cxy := a.sxx/n-cx*cx, a.syy/n-cy*cy, a.sxy/n-cx*cy
		o := Object{ID: int32(v), Area: a.n, Perimeter: a.perim, X: cx, Y: cy, MeanIntensity: a.si / n}
		// Eigenvalues of the covariance matrix [[cxx, cxy], [cxy, cyy]].
		mid, d := (cxx+cyy)/2, math.Sqrt(math.Max(((cxx-cyy)/2)*((cxx-cyy)/2)+cxy*cxy, 0))
		if l1, l2 := mid+d, mid-d; l1 > 0 {
			o.Eccentricity = math.Sqrt(math.Max(1-l2/l1, 0))
		}
		out = append(out, o)
	}
	return out
}

// greyPlane returns an image's grey values, row-major.
func greyPlane(img *tensor.Tensor) []float32 {
	h, w, c := img.Dim(0), img.Dim(1), img.Dim(2)
	v := img.Contiguous().Values()
	out := make([]float32, h*w)
	for i := range out {
		if c >= 3 {
			out[i] = 0.299*v[i*c] + 0.587*v[i*c+1] + 0.114*v[i*c+2]
		} else {
			out[i] = v[i*c]
		}
	}
	return out
}
