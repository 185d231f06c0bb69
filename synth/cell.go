package synth

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/deepscope/deepscope/tensor"
	"github.com/deepscope/deepscope/transform"
)

// Cell draws one field of view, size x size pixels ([size, size, 3], RGB
// in [0, 1]): background plasma, red cells, and in the middle a white cell
// of the given class (for Platelet, a platelet cluster), at a random
// position and rotation, in the given style. Shapes are specified for
// 64 px and scale with size. It panics if class is unknown or size < 8.
func Cell(rng *rand.Rand, class Class, size int, style Style) *tensor.Tensor {
	if class < 0 || class >= numClasses {
		panic(fmt.Sprintf("synth: Cell: unknown class %d", int(class)))
	}
	if size < 8 {
		panic(fmt.Sprintf("synth: Cell: size %d, want at least 8", size))
	}
	c := newCanvas(size)
	w := &wbc{c: c, rng: rng, st: style, v: style.Variability}
	w.atypical = rng.Float64() < 0.3*w.v
	w.plan(class)
	drawPlasma(c, rng, style)
	drawRedCells(c, rng, style, w)
	w.draw(class)
	drawStrayPlatelets(c, rng, style, w)
	return render(c, rng, style)
}

// wbc is the central cell being drawn.
type wbc struct {
	c        *canvas
	rng      *rand.Rand
	st       Style
	v        float64 // variability
	atypical bool
	cx, cy   float64 // centre, pixels
	r        float64 // outer radius, units (64 px scale)
	th       float64 // rotation
}

// plan fixes the centre, rotation and outer radius (in 64-px units).
func (w *wbc) plan(class Class) {
	rng, v := w.rng, w.v
	n := float64(w.c.n)
	w.cx = n/2 + (rng.Float64()*2-1)*0.07*n
	w.cy = n/2 + (rng.Float64()*2-1)*0.07*n
	w.th = 2 * math.Pi * rng.Float64()
	switch class {
	case Neutrophil:
		w.r = between(rng, 10.5, 12.5, v)
	case Eosinophil:
		w.r = between(rng, 11, 13, v)
	case Basophil:
		w.r = between(rng, 9, 11, v)
	case Lymphocyte:
		if rng.Float64() < 0.2 || w.atypical { // a large lymphocyte
			w.r = between(rng, 9.5, 11.5, v)
		} else {
			w.r = between(rng, 7.5, 9, v)
		}
	case Monocyte:
		w.r = between(rng, 12, 14.5, v)
	case IG:
		w.r = between(rng, 11.5, 13.5, v)
	case Erythroblast:
		if w.atypical {
			w.r = between(rng, 8.5, 10, v)
		} else {
			w.r = between(rng, 6.5, 8.5, v)
		}
	case Platelet:
		w.r = between(rng, 3, 5, v)
		if w.atypical { // a giant platelet
			w.r = between(rng, 5, 7, v)
		}
	}
}

// at maps a point in the cell's own frame (units, origin at its centre)
// to pixels.
func (w *wbc) at(lx, ly float64) (float64, float64) {
	s, c := math.Sincos(w.th)
	u := w.c.u
	return w.cx + u*(lx*c-ly*s), w.cy + u*(lx*s+ly*c)
}

func (w *wbc) px(units float64) float64 { return units * w.c.u }

// stain returns a mixture of the style's stain colours.
func (w *wbc) stain(azure, eosin, blue float64) [3]float32 {
	return mix(weighted{azure, w.st.Azure}, weighted{eosin, w.st.Eosin}, weighted{blue, w.st.Blue})
}

// orange is eosin as the crystalline granules of eosinophils take it up:
// more strongly than red cells, and absorbing more blue (so more orange).
func (w *wbc) orange() [3]float32 {
	e := w.st.Eosin
	return [3]float32{1.5 * e[0], 1.3 * e[1], 1.6 * e[2]}
}

// textured returns a density base*(1 + amp*noise) with noise features of
// about cell units.
func (w *wbc) textured(base, amp, cell float64) func(x, y float64) float64 {
	z := newNoise(w.rng, w.c.n, max(w.px(cell), 0.8))
	return func(x, y float64) float64 { return base * max(0, 1+amp*z.at(x, y)) }
}

func (w *wbc) draw(class Class) {
	switch class {
	case Neutrophil:
		w.neutrophil()
	case Eosinophil:
		w.eosinophil()
	case Basophil:
		w.basophil()
	case Lymphocyte:
		w.lymphocyte()
	case Monocyte:
		w.monocyte()
	case IG:
		w.ig()
	case Erythroblast:
		w.erythroblast()
	case Platelet:
		w.plateletCluster()
	}
}

// cytoplasm paints the cell body with an irregular outline.
func (w *wbc) cytoplasm(col [3]float32, density, wobble float64) sdf {
	shape := wobbly(w.rng, w.cx, w.cy, w.px(w.r), wobble)
	w.c.paint(w.cx, w.cy, w.px(w.r)*1.5, shape, w.textured(density, 0.15, 3), col)
	return shape
}

// granules scatters n round granules of radius rg (units) over the disc of
// radius rmax (units) about the centre.
func (w *wbc) granules(n int, rg [2]float64, rmax, density float64, col [3]float32) {
	for range n {
		rho := rmax * math.Sqrt(w.rng.Float64())
		phi := 2 * math.Pi * w.rng.Float64()
		x, y := w.at(rho*math.Cos(phi), rho*math.Sin(phi))
		r := w.px(between(w.rng, rg[0], rg[1], 0))
		d := density * (0.7 + 0.6*w.rng.Float64())
		w.c.paint(x, y, r, circle(x, y, r), constant(d), col)
	}
}

// lobedNucleus paints k lobes along an arc of radius ra (units) and angular
// span, joined by thin filaments.
func (w *wbc) lobedNucleus(k int, ra, span, lobe, density float64) {
	rng := w.rng
	a0 := 2 * math.Pi * rng.Float64()
	var parts []sdf
	var px, py []float64
	for i := range k {
		a := a0
		if k > 1 {
			a += span * float64(i) / float64(k-1)
		}
		rr := ra * (0.85 + 0.3*rng.Float64())
		x, y := w.at(rr*math.Cos(a), rr*math.Sin(a))
		la := w.px(lobe * (0.9 + 0.3*rng.Float64()))
		lb := la * (0.6 + 0.25*rng.Float64())
		parts = append(parts, ellipse(x, y, la, lb, a+w.th+rng.Float64()-0.5))
		px, py = append(px, x), append(py, y)
	}
	for i := 1; i < k; i++ {
		parts = append(parts, capsule(px[i-1], py[i-1], px[i], py[i], w.px(0.7+0.5*rng.Float64())))
	}
	w.c.paint(w.cx, w.cy, w.px(ra+lobe*1.4+1), union(parts...), w.textured(density, 0.3, 1.8), w.stain(1, 0.1, 0))
}

// bean is an ellipse with a notch bitten from one side: a round nucleus
// at notch 0, a kidney at 0.4, a horseshoe near 0.8.
func (w *wbc) bean(ox, oy, a, b, notch float64) sdf {
	x, y := w.at(ox, oy)
	e := ellipse(x, y, w.px(a), w.px(b), w.th)
	if notch <= 0 {
		return e
	}
	// The biting circle sits beyond the minor axis.
	nr := b * (0.5 + 0.5*notch)
	bx, by := w.at(ox, oy+b*(1.55-0.9*notch)+nr*0.35)
	return subtract(e, circle(bx, by, w.px(nr)))
}

func (w *wbc) neutrophil() {
	v, rng := w.v, w.rng
	w.cytoplasm(w.stain(0.08, 0.55, 0.04), between(rng, 0.5, 0.65, v), 0.06)
	w.granules(int(between(rng, 30, 50, v)), [2]float64{0.45, 0.7}, w.r-1, 0.22, w.stain(0.35, 0.6, 0))
	k := 3 + rng.IntN(3) // 3 to 5 lobes
	if k == 5 && rng.Float64() < 0.5 {
		k = 4
	}
	span := between(rng, 2.6, 4.4, v)
	lobe := between(rng, 2.6, 3.2, v)
	if w.atypical {
		if rng.Float64() < 0.5 {
			k = 2 // an eosinophil-like pair of lobes
		} else { // a band: a thick C, like a metamyelocyte's
			w.band(w.r*0.5, 2.4, between(rng, 1.0, 1.25, v))
			return
		}
	}
	w.lobedNucleus(k, w.r*between(rng, 0.42, 0.55, v), span, lobe, between(rng, 1.0, 1.3, v))
}

// band paints a thick curved nucleus: capsules along an arc.
func (w *wbc) band(ra, thick, density float64) {
	rng := w.rng
	a0 := 2 * math.Pi * rng.Float64()
	span := between(rng, 2.4, 3.8, w.v)
	const n = 6
	var parts []sdf
	var x0, y0 float64
	for i := range n + 1 {
		a := a0 + span*float64(i)/n
		x, y := w.at(ra*math.Cos(a), ra*math.Sin(a))
		if i > 0 {
			parts = append(parts, capsule(x0, y0, x, y, w.px(thick)))
		}
		x0, y0 = x, y
	}
	w.c.paint(w.cx, w.cy, w.px(ra+thick+1), union(parts...), w.textured(density, 0.3, 1.8), w.stain(1, 0.1, 0))
}

func (w *wbc) eosinophil() {
	v, rng := w.v, w.rng
	w.cytoplasm(mix(weighted{0.6, w.orange()}, weighted{0.05, w.st.Azure}), between(rng, 0.5, 0.7, v), 0.05)
	k := 2
	if w.atypical || rng.Float64() < 0.1 {
		k = 3
	}
	w.lobedNucleus(k, w.r*between(rng, 0.3, 0.4, v), between(rng, 2.2, 3.2, v), between(rng, 3.3, 4.0, v), between(rng, 1.0, 1.25, v))
	fill := between(rng, 0.7, 1.0, v)
	density := between(rng, 0.45, 0.65, v)
	if w.atypical { // sparse, pale granules
		fill, density = 0.3, 0.35
	}
	g := [2]float64{0.7, 1.0}
	n := int(fill * w.r * w.r / (0.85 * 0.85))
	w.granules(n, g, w.r-0.8, density, w.orange())
}

func (w *wbc) basophil() {
	v, rng := w.v, w.rng
	w.cytoplasm(w.stain(0.4, 0.3, 0.1), between(rng, 0.55, 0.75, v), 0.1)
	w.lobedNucleus(2+rng.IntN(2), w.r*0.3, between(rng, 1.5, 3, v), between(rng, 3.2, 4.2, v), between(rng, 0.8, 1.0, v))
	fill := between(rng, 1.0, 1.5, v)
	if w.atypical {
		fill = 0.4
	}
	n := int(fill * w.r * w.r / (1.0 * 1.0))
	w.granules(n, [2]float64{0.8, 1.3}, w.r-0.3, between(rng, 0.5, 0.7, v), w.stain(1.1, 0.15, 0.1))
}

func (w *wbc) lymphocyte() {
	v, rng := w.v, w.rng
	w.cytoplasm(w.stain(0.05, 0.1, 1.0), between(rng, 0.8, 1.0, v), 0.05)
	nr := w.r * between(rng, 0.76, 0.88, v)
	off := (w.r - nr) * rng.Float64() * 0.8
	notch := 0.0
	if rng.Float64() < 0.3 || w.atypical {
		notch = between(rng, 0.05, 0.3, v)
	}
	shape := w.bean(off, 0, nr, nr*between(rng, 0.88, 1, v), notch)
	w.c.paint(w.cx, w.cy, w.px(w.r+1), shape, w.textured(between(rng, 1.3, 1.6, v), 0.3, 2.4), w.stain(1, 0.08, 0))
}

func (w *wbc) monocyte() {
	v, rng := w.v, w.rng
	w.cytoplasm(w.stain(0.12, 0.25, 0.6), between(rng, 0.65, 0.85, v), between(rng, 0.1, 0.2, v))
	for range rng.IntN(6) { // vacuoles
		rho := (w.r - 2) * math.Sqrt(rng.Float64())
		phi := 2 * math.Pi * rng.Float64()
		x, y := w.at(rho*math.Cos(phi), rho*math.Sin(phi))
		r := w.px(between(rng, 0.7, 1.5, 0))
		w.c.paint(x, y, r, circle(x, y, r), constant(-0.45), w.stain(0.12, 0.25, 0.6))
	}
	a := w.r * between(rng, 0.52, 0.62, v)
	notch := between(rng, 0.3, 0.8, v)
	if w.atypical { // a round nucleus, lymphocyte-like
		notch = 0.05
	}
	shape := w.bean(0, -w.r*0.1, a, a*between(rng, 0.7, 0.85, v), notch)
	w.c.paint(w.cx, w.cy, w.px(w.r+1), shape, w.textured(between(rng, 0.85, 1.05, v), 0.35, 1.5), w.stain(1, 0.12, 0))
}

func (w *wbc) ig() {
	v, rng := w.v, w.rng
	w.cytoplasm(w.stain(0.15, 0.4, 0.35), between(rng, 0.65, 0.85, v), 0.08)
	w.granules(int(between(rng, 30, 55, v)), [2]float64{0.5, 0.8}, w.r-1, 0.35, w.stain(0.6, 0.6, 0))
	if w.atypical { // two lobes, as a late band
		w.lobedNucleus(2, w.r*0.35, 2.8, 3.4, 1.05)
		return
	}
	a := w.r * between(rng, 0.48, 0.58, v)
	off := w.r * between(rng, 0.15, 0.3, v)
	shape := w.bean(off, 0, a, a*between(rng, 0.75, 0.9, v), between(rng, 0, 0.45, v))
	w.c.paint(w.cx, w.cy, w.px(w.r+1), shape, w.textured(between(rng, 0.9, 1.1, v), 0.3, 1.8), w.stain(1, 0.12, 0))
}

func (w *wbc) erythroblast() {
	v, rng := w.v, w.rng
	t := rng.Float64() // polychromasia: from blue (young) to pink (late)
	w.cytoplasm(w.stain(0.08, 0.9*t, 0.9*(1-t)+0.2), between(rng, 0.8, 1.0, v), 0.04)
	nr := w.r * between(rng, 0.55, 0.7, v)
	off := (w.r - nr) * rng.Float64() * 0.9
	shape := w.bean(off, 0, nr, nr*between(rng, 0.9, 1, v), 0)
	w.c.paint(w.cx, w.cy, w.px(w.r+1), shape, w.textured(between(rng, 1.7, 2.1, v), 0.12, 2), w.stain(1, 0.05, 0))
}

// platelet paints one platelet: a pale halo with a granular purple centre.
func (w *wbc) platelet(x, y, r float64) {
	rng := w.rng
	var parts []sdf
	for range 2 + rng.IntN(2) {
		dx, dy := w.px(r*0.4*(rng.Float64()*2-1)), w.px(r*0.4*(rng.Float64()*2-1))
		parts = append(parts, circle(x+dx, y+dy, w.px(r*(0.55+0.3*rng.Float64()))))
	}
	core := union(parts...)
	halo := func(px, py float64) float64 { return core(px, py) - w.px(0.6) }
	w.c.paint(x, y, w.px(r*1.6+1), halo, constant(0.25), w.stain(0.5, 0.4, 0))
	w.c.paint(x, y, w.px(r*1.6), core, w.textured(between(rng, 0.8, 1.1, w.v), 0.5, 0.7), w.stain(0.8, 0.5, 0))
}

func (w *wbc) plateletCluster() {
	rng := w.rng
	k := 1 + rng.IntN(3)
	if w.r > 5 {
		k = 1
	}
	for i := range k {
		a := 2 * math.Pi * rng.Float64()
		d := 0.0
		if i > 0 {
			d = between(rng, 3, 6, 0)
		}
		x, y := w.at(d*math.Cos(a), d*math.Sin(a))
		r := w.r * (0.45 + 0.25*rng.Float64())
		if i == 0 {
			r = w.r * 0.6
		}
		w.platelet(x, y, r)
	}
}

// drawStrayPlatelets adds the odd platelet away from the centre.
func drawStrayPlatelets(c *canvas, rng *rand.Rand, st Style, w *wbc) {
	n := 0
	if u := rng.Float64(); u < 0.3 {
		n = 1
	} else if u < 0.4 {
		n = 2
	}
	for range n {
		for range 10 {
			x, y := rng.Float64()*float64(c.n), rng.Float64()*float64(c.n)
			if math.Hypot(x-w.cx, y-w.cy) > w.px(w.r+4) {
				w.platelet(x, y, between(rng, 1.4, 2.2, 0))
				break
			}
		}
	}
}

// drawPlasma tints the background faintly and unevenly.
func drawPlasma(c *canvas, rng *rand.Rand, st Style) {
	z := newNoise(rng, c.n, 20*c.u)
	base := 0.04 + 0.04*rng.Float64()
	for y := range c.n {
		for x := range c.n {
			d := float32(base * (1 + 0.6*z.at(float64(x)+0.5, float64(y)+0.5)))
			o := c.od[(y*c.n+x)*3:]
			for k := range 3 {
				o[k] += d * st.Eosin[k]
			}
		}
	}
}

// drawRedCells packs the field with red cells: pale discs with a lighter
// centre (central pallor), touching and sometimes overlapping, kept off
// the white cell.
func drawRedCells(c *canvas, rng *rand.Rand, st Style, w *wbc) {
	n := float64(c.n)
	col := mix(weighted{0.25, st.Eosin}, weighted{0.08, st.Azure}, weighted{0.15, st.Blue})
	type rc struct{ x, y, r float64 }
	var cells []rc
	tries := int(between(rng, 60, 160, 0))
	keepOff := w.px(w.r)
	for range tries {
		r := c.u * (7.2 + 0.45*rng.NormFloat64())
		x := -r + (n+2*r)*rng.Float64()
		y := -r + (n+2*r)*rng.Float64()
		if math.Hypot(x-w.cx, y-w.cy) < keepOff+0.8*r {
			continue
		}
		ok := true
		for _, o := range cells {
			if math.Hypot(x-o.x, y-o.y) < (r+o.r)*0.85 {
				ok = false
				break
			}
		}
		if !ok {
			continue
		}
		cells = append(cells, rc{x, y, r})
		a := r
		b := r * (0.86 + 0.14*rng.Float64())
		shape := ellipse(x, y, a, b, math.Pi*rng.Float64())
		pallor := 0.65 + 0.25*rng.Float64()
		dens := 0.9 + 0.35*rng.Float64()
		rr := 0.55 * r
		cx, cy := x+0.1*r*(rng.Float64()*2-1), y+0.1*r*(rng.Float64()*2-1)
		density := func(px, py float64) float64 {
			q := ((px-cx)*(px-cx) + (py-cy)*(py-cy)) / (rr * rr)
			return dens * (1 - pallor*math.Exp(-q))
		}
		c.paint(x, y, r, shape, density, col)
	}
}

// render turns optical density into RGB under the style's light, then
// defocuses and adds sensor noise.
func render(c *canvas, rng *rand.Rand, st Style) *tensor.Tensor {
	img := tensor.New(c.n, c.n, 3)
	s := float32(st.Strength)
	vig := 0.04 * rng.Float64()
	h := float64(c.n) / 2
	for y := range c.n {
		for x := range c.n {
			dx, dy := (float64(x)+0.5-h)/h, (float64(y)+0.5-h)/h
			l := float32(1 - vig*(dx*dx+dy*dy))
			i := (y*c.n + x) * 3
			for k := range 3 {
				img.Data[i+k] = st.Light[k] * l * float32(math.Exp(-float64(s*max(c.od[i+k], 0))))
			}
		}
	}
	img = transform.Blur(img, st.Blur*c.u)
	ns := float32(st.Noise)
	for i, v := range img.Data {
		img.Data[i] = min(max(v+ns*float32(rng.NormFloat64()), 0), 1)
	}
	return img
}
