package transform

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/deepscope/deepscope/tensor"
)

// Macenko normalises the stain of H&E or Romanowsky-stained images to a
// target's, after Macenko et al., "A method for normalizing histology
// slides for quantitative analysis" (ISBI 2009). Fit estimates the
// target's two stain vectors and their robust maximum concentrations; Apply
// estimates the same for the input, re-expresses each pixel's
// concentrations in the target's scale and recombines them with the
// target's stain vectors.
//
// The estimate of an image: convert to optical density OD = -ln(x/Io) per
// channel; keep pixels whose OD is at least Beta in every channel (drop the
// background); take the plane of the two largest eigenvectors of their OD
// covariance; project, measure each pixel's angle in that plane, and take
// the directions at the Alpha and 100-Alpha percentiles of the angle as the
// two stain vectors (the one with more red absorbance is haematoxylin);
// solve every pixel's concentrations by least squares, constrained to be
// non-negative as StainTools does (unconstrained, the noise of the
// background turns into colour speckle); and take each stain's 99th
// percentile as its maximum.
//
// The method assumes white light: the same Io in every channel. Blood
// smears and many scanners show a tinted background, which a fixed Io turns
// into spurious stain; with AutoLight each image's light is estimated per
// channel from its brightest pixels (the 98th percentile), densities are
// taken relative to it, and the output is lit by the target's light.
//
// It is deterministic preprocessing (rng is not used), meant to run before
// the random augmentations. Stains, MaxC and Light hold the fitted target
// and can be stored and set directly.
type Macenko struct {
	Io        float64 // transmitted (background) light in [0, 1]; 240/255 when zero
	Alpha     float64 // angle percentile; 1 when zero
	Beta      float64 // background optical-density threshold; 0.15 when zero
	AutoLight bool    // estimate the light per image and channel instead of using Io

	Stains [2][3]float64 // target haematoxylin and eosin OD unit vectors (R, G, B)
	MaxC   [2]float64    // target 99th-percentile concentrations
	Light  [3]float64    // target light per channel (Io in each without AutoLight)
}

// stainEstimate is one image's (or one set's) stain vectors and maxima.
type stainEstimate struct {
	he   [2]vec3
	maxC [2]float64
}

// light returns the illumination to measure v's optical density against.
func (m *Macenko) light(v []float32) vec3 {
	if !m.AutoLight {
		io, _, _ := m.params()
		return vec3{io, io, io}
	}
	var l vec3
	ch := make([]float64, len(v)/3)
	for k := range 3 {
		for i := range ch {
			ch[i] = float64(v[3*i+k])
		}
		slices.Sort(ch)
		l[k] = math.Max(percentile(ch, 98), 1.0/255)
	}
	return l
}

func (m *Macenko) params() (io, alpha, beta float64) {
	io, alpha, beta = m.Io, m.Alpha, m.Beta
	if io == 0 {
		io = 240.0 / 255
	}
	if alpha == 0 {
		alpha = 1
	}
	if beta == 0 {
		beta = 0.15
	}
	return io, alpha, beta
}

// Fit estimates the target stain vectors and maximum concentrations from
// refs pooled together. It fails on non-RGB images and on references with
// too few stained pixels (a blank field) or only one stain.
func (m *Macenko) Fit(refs []*tensor.Tensor) error {
	if len(refs) == 0 {
		return errors.New("transform: Macenko.Fit: no reference images")
	}
	vals := make([][]float32, len(refs))
	for i, r := range refs {
		if r.Dims() != 3 || r.Shape[2] != 3 {
			return fmt.Errorf("transform: Macenko.Fit: reference %d has shape %v, want [H, W, 3]", i, r.Shape)
		}
		vals[i] = r.Contiguous().Values()
	}
	lights := make([]vec3, len(vals))
	var mean vec3
	for i, v := range vals {
		lights[i] = m.light(v)
		for k := range 3 {
			mean[k] += lights[i][k] / float64(len(vals))
		}
	}
	est, err := m.estimate(vals, lights)
	if err != nil {
		return fmt.Errorf("transform: Macenko.Fit: %w", err)
	}
	m.Stains = [2][3]float64{est.he[0], est.he[1]}
	m.MaxC = est.maxC
	m.Light = mean
	return nil
}

// Fitted reports whether the target has been set.
func (m *Macenko) Fitted() bool { return m.MaxC[0] > 0 && m.MaxC[1] > 0 }

// Apply implements Transform. An image whose stains cannot be estimated
// (a blank field) is returned unchanged; use Normalize to see why. It
// panics if the target has not been fitted or set.
func (m *Macenko) Apply(img *tensor.Tensor, _ *rand.Rand) *tensor.Tensor {
	out, err := m.Normalize(img)
	if err != nil {
		return img
	}
	return out
}

// Normalize returns img with the target's stain, or an error saying why
// the image's own stains could not be estimated.
func (m *Macenko) Normalize(img *tensor.Tensor) (*tensor.Tensor, error) {
	if !m.Fitted() {
		panic("transform: Macenko used before Fit")
	}
	h, w, v := rgb("Macenko", img)
	light := m.light(v)
	src, err := m.estimate([][]float32{v}, []vec3{light})
	if err != nil {
		return nil, fmt.Errorf("transform: Macenko: %w", err)
	}
	target := vec3(m.Light)
	if target == (vec3{}) { // set by hand without a light
		io, _, _ := m.params()
		target = vec3{io, io, io}
	}
	ls := newNNLS(src.he)
	scale := [2]float64{m.MaxC[0] / src.maxC[0], m.MaxC[1] / src.maxC[1]}
	t0, t1 := vec3(m.Stains[0]), vec3(m.Stains[1])
	out := tensor.New(h, w, 3)
	for i := 0; i < len(v); i += 3 {
		o := opticalDensity(v[i:i+3], light)
		c0, c1 := ls.solve(o)
		c0 *= scale[0]
		c1 *= scale[1]
		for k := range 3 {
			out.Data[i+k] = clamp01(float32(target[k] * math.Exp(-(t0[k]*c0 + t1[k]*c1))))
		}
	}
	return out, nil
}

func (m *Macenko) String() string {
	return fmt.Sprintf("Macenko(H=%.3f, E=%.3f, maxC=%.3f, light=%.3f)", m.Stains[0], m.Stains[1], m.MaxC, m.Light)
}

func opticalDensity(p []float32, light vec3) vec3 {
	var o vec3
	for k := range 3 {
		o[k] = -math.Log(math.Max(float64(p[k]), 1.0/255) / light[k])
	}
	return o
}

// minStained is the fewest foreground pixels an estimate accepts.
const minStained = 16

// estimate pools images, each measured against its own light.
func (m *Macenko) estimate(images [][]float32, lights []vec3) (stainEstimate, error) {
	_, alpha, beta := m.params()
	var fg []vec3
	total := 0
	for j, v := range images {
		for i := 0; i < len(v); i += 3 {
			o := opticalDensity(v[i:i+3], lights[j])
			if o[0] >= beta && o[1] >= beta && o[2] >= beta {
				fg = append(fg, o)
			}
		}
		total += len(v) / 3
	}
	if len(fg) < minStained {
		return stainEstimate{}, fmt.Errorf("no stain to estimate: %d of %d pixels have optical density >= %g in every channel (a blank or overexposed field?)", len(fg), total, beta)
	}
	// Covariance of the foreground OD.
	var mean vec3
	for _, o := range fg {
		for k := range 3 {
			mean[k] += o[k]
		}
	}
	mean = mean.scale(1 / float64(len(fg)))
	var cov mat3
	for _, o := range fg {
		d := vec3{o[0] - mean[0], o[1] - mean[1], o[2] - mean[2]}
		for r := range 3 {
			for c := range 3 {
				cov[r][c] += d[r] * d[c]
			}
		}
	}
	_, vecs := symEigen(cov)
	e1, e2 := vecs[0], vecs[1]
	if e1[0]+e1[1]+e1[2] < 0 { // optical densities are positive
		e1 = e1.scale(-1)
	}
	if e2[0]+e2[1]+e2[2] < 0 {
		e2 = e2.scale(-1)
	}
	phi := make([]float64, len(fg))
	for i, o := range fg {
		phi[i] = math.Atan2(o.dot(e2), o.dot(e1))
	}
	slices.Sort(phi)
	lo, hi := percentile(phi, alpha), percentile(phi, 100-alpha)
	vLo := unit(e1.scale(math.Cos(lo)), e2.scale(math.Sin(lo)))
	vHi := unit(e1.scale(math.Cos(hi)), e2.scale(math.Sin(hi)))
	he := [2]vec3{vLo, vHi}
	if vHi[0] > vLo[0] { // haematoxylin absorbs more red than eosin
		he = [2]vec3{vHi, vLo}
	}
	if math.Abs(he[0].dot(he[1])) > 0.9995 {
		return stainEstimate{}, errors.New("found one stain colour only; two (haematoxylin and eosin) are needed")
	}
	ls := newNNLS(he)
	c0 := make([]float64, 0, total)
	c1 := make([]float64, 0, total)
	for j, v := range images {
		for i := 0; i < len(v); i += 3 {
			a, b := ls.solve(opticalDensity(v[i:i+3], lights[j]))
			c0 = append(c0, a)
			c1 = append(c1, b)
		}
	}
	slices.Sort(c0)
	slices.Sort(c1)
	maxC := [2]float64{percentile(c0, 99), percentile(c1, 99)}
	if maxC[0] <= 1e-6 || maxC[1] <= 1e-6 {
		return stainEstimate{}, fmt.Errorf("stain concentrations too small (99th percentiles %.3g, %.3g)", maxC[0], maxC[1])
	}
	return stainEstimate{he: he, maxC: maxC}, nil
}

func unit(a, b vec3) vec3 {
	v := vec3{a[0] + b[0], a[1] + b[1], a[2] + b[2]}
	return v.scale(1 / v.norm())
}

// pseudoInverse returns the rows of (AᵀA)⁻¹Aᵀ for the 3x2 matrix A whose
// columns are he[0] and he[1]: the least-squares concentrations of an OD
// vector o are (rows[0]·o, rows[1]·o).
func pseudoInverse(he [2]vec3) [2]vec3 {
	a, b, c := he[0].dot(he[0]), he[0].dot(he[1]), he[1].dot(he[1])
	d := a*c - b*b
	var r [2]vec3
	for k := range 3 {
		r[0][k] = (c*he[0][k] - b*he[1][k]) / d
		r[1][k] = (a*he[1][k] - b*he[0][k]) / d
	}
	return r
}

// nnls solves min |o - c0 he0 - c1 he1| over c0, c1 >= 0.
type nnls struct {
	he   [2]vec3
	pinv [2]vec3
	n2   [2]float64 // |he_i|²
}

func newNNLS(he [2]vec3) nnls {
	return nnls{he: he, pinv: pseudoInverse(he), n2: [2]float64{he[0].dot(he[0]), he[1].dot(he[1])}}
}

// solve takes the unconstrained solution when it is feasible; otherwise
// the optimum lies on an axis, the better of the two one-stain fits.
func (s nnls) solve(o vec3) (c0, c1 float64) {
	c0, c1 = s.pinv[0].dot(o), s.pinv[1].dot(o)
	if c0 >= 0 && c1 >= 0 {
		return c0, c1
	}
	a := max(0, o.dot(s.he[0])/s.n2[0])
	b := max(0, o.dot(s.he[1])/s.n2[1])
	// residual² of a one-stain fit c*v is |o|² - c²|v|² at the optimum c
	if a*a*s.n2[0] >= b*b*s.n2[1] {
		return a, 0
	}
	return 0, b
}

// percentile of sorted s with linear interpolation (NumPy's default).
func percentile(s []float64, p float64) float64 {
	if len(s) == 1 {
		return s[0]
	}
	pos := p / 100 * float64(len(s)-1)
	i := int(math.Floor(pos))
	if i >= len(s)-1 {
		return s[len(s)-1]
	}
	f := pos - float64(i)
	return s[i] + f*(s[i+1]-s[i])
}
