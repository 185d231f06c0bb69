package segment

import (
	"fmt"
	"math"
	"sync"

	"github.com/deepscope/deepscope/nn"
	"github.com/deepscope/deepscope/tensor"
)

// The "hv" head (Config.Head) is the three-class head plus HoVer-Net's
// distance maps (Graham et al., "HoVer-Net: Simultaneous segmentation and
// classification of nuclei in multi-tissue histology images", Medical
// Image Analysis 58, 2019): two more outputs per pixel, the horizontal
// and vertical distance of an object's pixel to the object's centroid,
// each scaled so that the object spans [-1, 1] along the axis (its two
// sides scaled apart), and 0 on background. Where two objects touch the
// maps jump from 1 to -1, so their gradient marks the contact whether or
// not the boundary class saw it: seeds are cut where the maps fall
// steeply (see hvEnergy and InstanceConfig.Energy), and growth meets where
// they fall most steeply or the boundary is likeliest.
// Written by hand after the paper; the loss is its mean squared error of
// the maps plus twice that of their Sobel gradients inside objects.

// Channels of the hv head's output after Model.Probs: the three class
// probabilities, then the maps mapped from [-1, 1] to [0, 1].
const (
	hvH       = NumClasses     // horizontal map
	hvV       = NumClasses + 1 // vertical map
	hvOutputs = NumClasses + 2
)

// Weights of the hv head's loss terms beside the cross-entropy: the maps'
// mean squared error and their gradients' (HoVer-Net's 1 and 2).
const (
	hvMSEWeight  = 1
	hvMSGEWeight = 2
)

// hvTargets returns the distance maps of l, two values per pixel
// (horizontal, vertical) quantised to int8 (127 for 1): for each object,
// its pixels' offsets from its centroid along x and y, the negative ones
// divided by the largest negative offset's size and the positive ones by
// the largest positive offset, so that each side spans [0, 1].
func hvTargets(l *Labels) []int8 {
	type acc struct {
		sx, sy, n              float64
		cx, cy                 float64
		minX, maxX, minY, maxY float64
	}
	objs := map[int32]*acc{}
	for p, v := range l.Pix {
		if v == 0 {
			continue
		}
		a := objs[v]
		if a == nil {
			a = &acc{}
			objs[v] = a
		}
		a.sx += float64(p % l.W)
		a.sy += float64(p / l.W)
		a.n++
	}
	for _, a := range objs {
		a.cx, a.cy = a.sx/a.n, a.sy/a.n
	}
	for p, v := range l.Pix {
		if v == 0 {
			continue
		}
		a := objs[v]
		dx, dy := float64(p%l.W)-a.cx, float64(p/l.W)-a.cy
		a.minX, a.maxX = min(a.minX, dx), max(a.maxX, dx)
		a.minY, a.maxY = min(a.minY, dy), max(a.maxY, dy)
	}
	side := func(d, lo, hi float64) int8 {
		switch {
		case d < 0 && lo < 0:
			d /= -lo
		case d > 0 && hi > 0:
			d /= hi
		default:
			d = 0
		}
		return int8(math.Round(d * 127))
	}
	out := make([]int8, 2*len(l.Pix))
	for p, v := range l.Pix {
		if v == 0 {
			continue
		}
		a := objs[v]
		out[2*p] = side(float64(p%l.W)-a.cx, a.minX, a.maxX)
		out[2*p+1] = side(float64(p/l.W)-a.cy, a.minY, a.maxY)
	}
	return out
}

// hvTurn returns how a crop turned by element d of the square's symmetry
// group (see turn) maps the source image's maps to the crop's: the crop's
// horizontal value is the source's component src[0] (0 horizontal, 1
// vertical) times sign[0], its vertical value src[1] times sign[1].
func hvTurn(d int) (src [2]int, sign [2]float32) {
	// The source step (rows, columns) of one crop step right and down.
	step := func(di, dj int) [2]int {
		i1, j1 := turn(d, 1+di, 1+dj, 3)
		i0, j0 := turn(d, 1, 1, 3)
		return [2]int{i1 - i0, j1 - j0}
	}
	for k, s := range [2][2]int{step(0, 1), step(1, 0)} {
		if s[1] != 0 { // along the source's columns: its horizontal map
			src[k], sign[k] = 0, float32(s[1])
		} else {
			src[k], sign[k] = 1, float32(s[0])
		}
	}
	return src, sign
}

// hvLoss is the hv head's training loss on outputs [N, S, S, hvOutputs]
// (raw: class logits, then the maps): cross-entropy of the classes (ce,
// with its class and row weights), plus hvMSEWeight times the maps' mean
// squared error over every pixel and both maps, plus hvMSGEWeight times
// the mean squared error of their gradients (the horizontal map's along
// x, the vertical's along y, by 3x3 Sobel filters divided by 8, so that a
// ramp of slope 1 has gradient 1) over the object pixels whose
// neighbourhood lies inside the crop.
type hvLoss struct {
	ce   nn.CrossEntropy
	cls  *tensor.Tensor // class logits, [rows, NumClasses]
	out  *tensor.Tensor
	hv   []float32 // target maps, 2 per pixel
	t    []int     // target classes
	n, s int       // crops, side
	gd   []float32 // per pixel and map: predicted minus true gradient, 0 outside the mask
	nm   float64   // pixels in the gradient term's mask
	grad *tensor.Tensor
}

// sobel returns the gradient of map k (0 or 1) of a crop's values v (c
// per pixel, the maps at offsets off and off+1) at (i, j), along x for
// the horizontal map and along y for the vertical one.
func sobel(v []float32, c, off, s, i, j, k int) float32 {
	at := func(y, x int) float32 { return v[(y*s+x)*c+off+k] }
	if k == 0 {
		return (at(i-1, j+1) + 2*at(i, j+1) + at(i+1, j+1) - at(i-1, j-1) - 2*at(i, j-1) - at(i+1, j-1)) / 8
	}
	return (at(i+1, j-1) + 2*at(i+1, j) + at(i+1, j+1) - at(i-1, j-1) - 2*at(i-1, j) - at(i-1, j+1)) / 8
}

// Forward returns the loss of out against the classes t and the maps hv
// (2 per pixel).
func (l *hvLoss) Forward(out *tensor.Tensor, t []int, hv []float32) float32 {
	if out.Dims() != 4 || out.Dim(1) != out.Dim(2) || out.Dim(3) != hvOutputs || len(t)*hvOutputs != out.Len() || len(hv) != 2*len(t) {
		panic(fmt.Sprintf("segment: hvLoss: output %v, %d classes and %d map values", out.Shape, len(t), len(hv)))
	}
	l.out, l.t, l.hv = out.Contiguous(), t, hv
	l.n, l.s = out.Dim(0), out.Dim(1)
	v := l.out.Values()
	rows := len(t)
	cls := tensor.Ensure(&l.cls, rows, NumClasses)
	for p := range rows {
		copy(cls.Data[p*NumClasses:(p+1)*NumClasses], v[p*hvOutputs:p*hvOutputs+NumClasses])
	}
	loss := float64(l.ce.Forward(cls, t))

	var mse float64
	for p := range rows {
		for k := range 2 {
			d := float64(v[p*hvOutputs+hvH+k] - hv[2*p+k])
			mse += d * d
		}
	}
	loss += hvMSEWeight * mse / float64(2*rows)

	l.gd = resize(l.gd, 2*rows)
	clear(l.gd)
	s := l.s
	var mu sync.Mutex
	var msge, nm float64
	tensor.Parallel(l.n, 1, func(lo, hi int) {
		var e, m float64
		for b := lo; b < hi; b++ {
			o := b * s * s
			for i := 1; i < s-1; i++ {
				for j := 1; j < s-1; j++ {
					if t[o+i*s+j] == Background {
						continue
					}
					m++
					for k := range 2 {
						d := sobel(v[o*hvOutputs:], hvOutputs, hvH, s, i, j, k) - sobel(hv[2*o:], 2, 0, s, i, j, k)
						l.gd[2*(o+i*s+j)+k] = d
						e += float64(d) * float64(d)
					}
				}
			}
		}
		mu.Lock()
		msge, nm = msge+e, nm+m
		mu.Unlock()
	})
	l.nm = nm
	if nm > 0 {
		loss += hvMSGEWeight * msge / (2 * nm)
	}
	return float32(loss)
}

// Backward returns the loss's gradient with respect to the last Forward's
// outputs.
func (l *hvLoss) Backward() *tensor.Tensor {
	v := l.out.Values()
	rows := len(l.t)
	g := tensor.Ensure(&l.grad, l.out.Shape...)
	gv := g.Values()
	dcls := l.ce.Backward().Values()
	for p := range rows {
		copy(gv[p*hvOutputs:p*hvOutputs+NumClasses], dcls[p*NumClasses:(p+1)*NumClasses])
		for k := range 2 {
			gv[p*hvOutputs+hvH+k] = float32(hvMSEWeight * 2 * float64(v[p*hvOutputs+hvH+k]-l.hv[2*p+k]) / float64(2*rows))
		}
	}
	if l.nm == 0 {
		return g
	}
	// The adjoint of the Sobel filters: each masked pixel's gradient error
	// flows back to its 3x3 neighbourhood with the filter's weights.
	scale := float32(hvMSGEWeight * 2 / (2 * l.nm) / 8)
	s := l.s
	tensor.Parallel(l.n, 1, func(lo, hi int) {
		for b := lo; b < hi; b++ {
			o := b * s * s
			add := func(y, x, k int, w float32) { gv[(o+y*s+x)*hvOutputs+hvH+k] += w }
			for i := 1; i < s-1; i++ {
				for j := 1; j < s-1; j++ {
					if dh := scale * l.gd[2*(o+i*s+j)]; dh != 0 {
						for di := -1; di <= 1; di++ {
							w := dh * float32(2-di*di)
							add(i+di, j+1, 0, w)
							add(i+di, j-1, 0, -w)
						}
					}
					if dv := scale * l.gd[2*(o+i*s+j)+1]; dv != 0 {
						for dj := -1; dj <= 1; dj++ {
							w := dv * float32(2-dj*dj)
							add(i+1, j+dj, 1, w)
							add(i-1, j+dj, 1, -w)
						}
					}
				}
			}
		}
	})
	return g
}

// hvEnergy returns, for the hv head's per-pixel values (hvOutputs per
// pixel, the maps in [0, 1] as Model.Probs gives them) of a w x h
// window, how steeply the maps fall at each pixel: the larger of the
// horizontal map's Sobel gradient along x and the vertical map's along y,
// negated, in map units ([-1, 1]) per pixel, clipped to [0, 1]. Inside an
// object the maps rise (gently, by 2 over its width); where two objects
// touch they fall from 1 to -1 within a pixel or two, and at an object's
// outer edge from 1 to 0.
func hvEnergy(probs []float32, w, h int) []float32 {
	at := func(y, x, k int) float32 {
		y, x = min(max(y, 0), h-1), min(max(x, 0), w-1)
		return 2*probs[(y*w+x)*hvOutputs+hvH+k] - 1
	}
	e := make([]float32, w*h)
	for y := range h {
		for x := range w {
			gx := (at(y-1, x+1, 0) + 2*at(y, x+1, 0) + at(y+1, x+1, 0) - at(y-1, x-1, 0) - 2*at(y, x-1, 0) - at(y+1, x-1, 0)) / 8
			gy := (at(y+1, x-1, 1) + 2*at(y+1, x, 1) + at(y+1, x+1, 1) - at(y-1, x-1, 1) - 2*at(y-1, x, 1) - at(y-1, x+1, 1)) / 8
			e[y*w+x] = min(max(-gx, -gy, 0), 1)
		}
	}
	return e
}

// hvActivate turns the hv head's raw outputs [..., hvOutputs] for an
// input turned by transform.Rot90(k) into Model.Probs' values: the class
// probabilities, then the maps of the unturned image mapped from [-1, 1]
// to [0, 1].
func hvActivate(raw *tensor.Tensor, k int) *tensor.Tensor {
	// An unturned step right went to right', a step down to down'; the
	// turned maps measure offsets along the turned axes, so the unturned
	// horizontal offset is the turned offset vector's component along
	// right', and the vertical one along down'.
	down, right := rot90Steps(k)
	v := raw.Contiguous().Values()
	out := tensor.New(raw.Shape...)
	for p := 0; p < len(v); p += hvOutputs {
		z := v[p : p+NumClasses]
		m := max(z[0], z[1], z[2])
		var sum float32
		for c := range NumClasses {
			e := tensor.Exp32(z[c] - m)
			out.Data[p+c] = e
			sum += e
		}
		for c := range NumClasses {
			out.Data[p+c] /= sum
		}
		th, tv := v[p+hvH], v[p+hvV] // along the turned image's x and y
		h := float32(right[0])*tv + float32(right[1])*th
		u := float32(down[0])*tv + float32(down[1])*th
		out.Data[p+hvH] = (min(max(h, -1), 1) + 1) / 2
		out.Data[p+hvV] = (min(max(u, -1), 1) + 1) / 2
	}
	return out
}
