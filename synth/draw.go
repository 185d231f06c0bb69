package synth

import (
	"math"
	"math/rand/v2"
)

// canvas accumulates optical density, three values (R, G, B) per pixel.
type canvas struct {
	n  int       // width and height in pixels
	u  float64   // pixels per unit; shapes are specified at 64 px = 64 units
	od []float32 // n*n*3
}

func newCanvas(n int) *canvas {
	return &canvas{n: n, u: float64(n) / 64, od: make([]float32, n*n*3)}
}

// sdf is a signed distance (in pixels, negative inside) at a pixel centre.
type sdf func(x, y float64) float64

// paint adds density(x, y) * coverage * col over the box around (cx, cy)
// of half-width r (pixels). Coverage is an antialiased step of the sdf.
func (c *canvas) paint(cx, cy, r float64, shape sdf, density func(x, y float64) float64, col [3]float32) {
	x0, x1 := max(int(cx-r-1), 0), min(int(cx+r+2), c.n)
	y0, y1 := max(int(cy-r-1), 0), min(int(cy+r+2), c.n)
	for y := y0; y < y1; y++ {
		py := float64(y) + 0.5
		for x := x0; x < x1; x++ {
			px := float64(x) + 0.5
			d := shape(px, py)
			if d >= 0.75 {
				continue
			}
			cov := coverage(d)
			a := float32(cov * density(px, py))
			o := c.od[(y*c.n+x)*3:]
			o[0] += a * col[0]
			o[1] += a * col[1]
			o[2] += a * col[2]
		}
	}
}

// coverage of a pixel whose centre is at signed distance d from an edge,
// for an edge softened over about 1.5 pixels.
func coverage(d float64) float64 {
	t := min(max(0.5-d/1.5, 0), 1)
	return t * t * (3 - 2*t)
}

func constant(v float64) func(x, y float64) float64 {
	return func(float64, float64) float64 { return v }
}

func circle(cx, cy, r float64) sdf {
	return func(x, y float64) float64 { return math.Hypot(x-cx, y-cy) - r }
}

// ellipse with semi-axes a (along angle th) and b; the distance is
// approximate but exact on the axes, enough for antialiasing.
func ellipse(cx, cy, a, b, th float64) sdf {
	s, co := math.Sincos(th)
	m := min(a, b)
	return func(x, y float64) float64 {
		dx, dy := x-cx, y-cy
		u := (dx*co + dy*s) / a
		v := (-dx*s + dy*co) / b
		return (math.Sqrt(u*u+v*v) - 1) * m
	}
}

// capsule is the set of points within r of the segment (ax, ay)-(bx, by).
func capsule(ax, ay, bx, by, r float64) sdf {
	dx, dy := bx-ax, by-ay
	l2 := dx*dx + dy*dy
	return func(x, y float64) float64 {
		t := 0.0
		if l2 > 0 {
			t = min(max(((x-ax)*dx+(y-ay)*dy)/l2, 0), 1)
		}
		return math.Hypot(x-ax-t*dx, y-ay-t*dy) - r
	}
}

func union(fs ...sdf) sdf {
	return func(x, y float64) float64 {
		d := math.Inf(1)
		for _, f := range fs {
			d = min(d, f(x, y))
		}
		return d
	}
}

func subtract(a, b sdf) sdf {
	return func(x, y float64) float64 { return max(a(x, y), -b(x, y)) }
}

// wobbly is a disc of radius r whose edge is modulated by low harmonics
// of amplitude amp (fraction of r), for irregular cell outlines.
func wobbly(rng *rand.Rand, cx, cy, r, amp float64) sdf {
	var a, ph [4]float64
	for k := range a {
		a[k] = amp * rng.Float64() / float64(k+1)
		ph[k] = 2 * math.Pi * rng.Float64()
	}
	return func(x, y float64) float64 {
		dx, dy := x-cx, y-cy
		phi := math.Atan2(dy, dx)
		rr := 1.0
		for k := range a {
			rr += a[k] * math.Cos(float64(k+2)*phi+ph[k])
		}
		return math.Hypot(dx, dy) - r*rr
	}
}

// noise is smooth value noise over the canvas, in about [-1, 1], with
// features of about cell pixels: random values on a lattice, interpolated
// with a smoothstep.
type noise struct {
	g    int
	cell float64
	v    []float32
}

func newNoise(rng *rand.Rand, n int, cell float64) *noise {
	g := int(float64(n)/cell) + 3
	v := make([]float32, g*g)
	for i := range v {
		v[i] = float32(2*rng.Float64() - 1)
	}
	return &noise{g: g, cell: cell, v: v}
}

func (z *noise) at(x, y float64) float64 {
	fx, fy := x/z.cell, y/z.cell
	ix, iy := int(fx), int(fy)
	if ix < 0 || iy < 0 || ix+1 >= z.g || iy+1 >= z.g {
		return 0
	}
	tx, ty := smooth(fx-float64(ix)), smooth(fy-float64(iy))
	a := float64(z.v[iy*z.g+ix])
	b := float64(z.v[iy*z.g+ix+1])
	c := float64(z.v[(iy+1)*z.g+ix])
	d := float64(z.v[(iy+1)*z.g+ix+1])
	return a + tx*(b-a) + ty*(c-a) + tx*ty*(a-b-c+d)
}

func smooth(t float64) float64 { return t * t * (3 - 2*t) }

// between draws uniformly from [lo, hi] widened about its middle by the
// factor 1+spread, so higher difficulty makes classes overlap more.
func between(rng *rand.Rand, lo, hi, spread float64) float64 {
	m, h := (lo+hi)/2, (hi-lo)/2*(1+spread)
	return m - h + 2*h*rng.Float64()
}

// mix returns the colour sum of weights times stain colours.
func mix(w ...weighted) [3]float32 {
	var c [3]float32
	for _, x := range w {
		for k := range 3 {
			c[k] += float32(x.w) * x.col[k]
		}
	}
	return c
}

type weighted struct {
	w   float64
	col [3]float32
}
