package segment

import (
	"fmt"
	"math"
	"slices"
	"sync"

	"github.com/deepscope/deepscope/tensor"
)

// The star-convex head (Schmidt et al. 2018, "Cell detection with
// star-convex polygons", the method of StarDist) describes an object seen
// from each of its pixels: the probability that the pixel is an object's
// pixel, weighted towards its centre, and the distances from the pixel to
// the object's edge along Rays directions evenly spread over the circle.
// Every confident pixel thus proposes a whole polygon; non-maximum
// suppression keeps the best of those that overlap. Touching nuclei part
// because each is proposed from its own centre, and outlines are smooth
// because they are polygons, not a per-pixel decision. The code is ours,
// written from the paper; the ray rule and the suppression's overlap follow
// its reference implementation, and the loss its default weights, as noted
// below.

// Star-convex head settings.
const (
	// DefaultRays is the number of directions of a star-convex head, as
	// StarDist's default for 2-D nuclei.
	DefaultRays = 32
	// distWeight and bgReg are StarDist's loss weights: the distance
	// loss counts 0.2 against the probability's 1, and background pixels'
	// predicted distances are pulled towards 0 with weight 1e-4.
	distWeight = 0.2
	bgReg      = 1e-4
	// rayUnit: ray distances are stored as multiples of 1/16 pixel.
	rayUnit = 16
)

// rayDirs returns the unit directions (dy, dx) of n rays, ray k at angle
// 2πk/n from the x axis, turning towards +y.
func rayDirs(n int) [][2]float64 {
	d := make([][2]float64, n)
	for k := range d {
		s, c := math.Sincos(2 * math.Pi * float64(k) / float64(n))
		d[k] = [2]float64{s, c}
	}
	return d
}

// rayDistance walks from pixel (y, x) of object v along direction (dy, dx)
// in unit steps, rounding to the nearest pixel, until it leaves the object
// or the image, and returns the distance to that exit, pulled back by half
// a pixel as StarDist's reference code does so that a one-pixel object has
// radius 0.5.
func rayDistance(l *Labels, y, x int, dy, dx float64) float64 {
	v := l.Pix[y*l.W+x]
	var ty, tx float64
	for {
		ty += dy
		tx += dx
		yy, xx := int(math.Round(float64(y)+ty)), int(math.Round(float64(x)+tx))
		if yy < 0 || xx < 0 || yy >= l.H || xx >= l.W || l.Pix[yy*l.W+xx] != v {
			corr := 1 - 0.5/max(math.Abs(dy), math.Abs(dx))
			ty -= corr * dy
			tx -= corr * dx
			return math.Hypot(ty, tx)
		}
	}
}

// starTargets are the training targets of a star-convex head for one
// image.
type starTargets struct {
	rays int
	// prob is each pixel's object probability * 255: its distance to the
	// object's edge (the shortest of its rays) over the largest such
	// distance in its object, as StarDist's edt_prob, 0 on background.
	prob []uint8
	// at is the index of each object pixel in dist, -1 on background.
	at []int32
	// dist holds rays distances per object pixel, in 1/rayUnit pixels.
	dist []uint16
}

// newStarTargets computes l's ray distances and object probabilities.
func newStarTargets(l *Labels, rays int) *starTargets {
	dirs := rayDirs(rays)
	st := &starTargets{rays: rays, prob: make([]uint8, len(l.Pix)), at: make([]int32, len(l.Pix))}
	near := make([]float64, 0, len(l.Pix)/4)
	for p, v := range l.Pix {
		if v == 0 {
			st.at[p] = -1
			continue
		}
		st.at[p] = int32(len(near))
		m := math.Inf(1)
		for _, d := range dirs {
			r := rayDistance(l, p/l.W, p%l.W, d[0], d[1])
			st.dist = append(st.dist, uint16(min(math.Round(r*rayUnit), math.MaxUint16)))
			m = min(m, r)
		}
		near = append(near, m)
	}
	most := map[int32]float64{}
	for p, v := range l.Pix {
		if v != 0 {
			most[v] = max(most[v], near[st.at[p]])
		}
	}
	for p, v := range l.Pix {
		if v != 0 {
			st.prob[p] = uint8(math.Round(255 * near[st.at[p]] / most[v]))
		}
	}
	return st
}

// rayPerm returns, for a linear map of the plane given by where it sends
// the unit steps (1, 0) and (0, 1) in (y, x), the ray each of n rays goes
// to: perm[k] is the ray whose direction is the image of ray k's. The map
// must be one of the square's symmetries and n a multiple of 4, so that the
// rays go to rays.
func rayPerm(n int, ey, ex [2]int) []int {
	dirs := rayDirs(n)
	perm := make([]int, n)
	for k, d := range dirs {
		my := d[0]*float64(ey[0]) + d[1]*float64(ex[0])
		mx := d[0]*float64(ey[1]) + d[1]*float64(ex[1])
		best, bestDot := 0, math.Inf(-1)
		for j, e := range dirs {
			if dot := e[0]*my + e[1]*mx; dot > bestDot {
				best, bestDot = j, dot
			}
		}
		perm[k] = best
	}
	return perm
}

// turnPerms holds, for each element d of the square's symmetry group (see
// turn) and a head of n rays, the ray of the image that ray k of the
// turned crop reads.
func turnPerms(n int) [8][]int {
	var out [8][]int
	for d := range out {
		oy, ox := turn(d, 0, 0, 3)
		y1, x1 := turn(d, 1, 0, 3)
		y2, x2 := turn(d, 0, 1, 3)
		out[d] = rayPerm(n, [2]int{y1 - oy, x1 - ox}, [2]int{y2 - oy, x2 - ox})
	}
	return out
}

// starInstances turns a star-convex head's output (per pixel: object
// probability, then ic.Rays distances in pixels) into objects: every pixel
// whose probability exceeds ic.Foreground proposes its polygon; proposals
// are taken from the most probable down, and each is dropped if its
// overlap with an object already kept exceeds ic.NMS, else kept. Overlap is
// StarDist's: the intersection over the smaller of the two polygons, so
// that a small proposal lying inside a kept object is dropped however
// small it is. A kept object owns the pixels of its polygon not owned by a
// more probable one.
//
// Areas are counted on the pixels whose centres lie inside the polygons,
// and a proposal's intersection with a kept object only on pixels that
// object owns, so where two kept objects overlap the later one's share is
// undercounted; StarDist intersects the polygons exactly.
func starInstances(maps []float32, w, h int, ic InstanceConfig) *Labels {
	n := 1 + ic.Rays
	if len(maps) != w*h*n {
		panic(fmt.Sprintf("segment: starInstances: %d values for %dx%d pixels of %d outputs", len(maps), w, h, n))
	}
	var cand []int32
	for p := range w * h {
		if maps[p*n] > ic.Foreground {
			cand = append(cand, int32(p))
		}
	}
	slices.SortStableFunc(cand, func(a, b int32) int {
		pa, pb := maps[int(a)*n], maps[int(b)*n]
		switch {
		case pa > pb:
			return -1
		case pa < pb:
			return 1
		}
		return 0
	})
	dirs := rayDirs(ic.Rays)
	l := NewLabels(w, h)
	var area []int  // pixels of each kept object's polygon
	var count []int // a proposal's pixels owned by each kept object
	var touched []int32
	var px []int32
	var vy, vx, cross []float64
	for _, c := range cand {
		cy, cx := float64(int(c)/w), float64(int(c)%w)
		d := maps[int(c)*n+1 : int(c)*n+n]
		vy, vx = vy[:0], vx[:0]
		for k, r := range d {
			r := float64(max(r, 0))
			vy = append(vy, cy+r*dirs[k][0])
			vx = append(vx, cx+r*dirs[k][1])
		}
		px, cross = rasterPolygon(px[:0], cross, vy, vx, w, h)
		if len(px) == 0 {
			continue
		}
		touched = touched[:0]
		for _, p := range px {
			if o := l.Pix[p]; o > 0 {
				if count[o-1] == 0 {
					touched = append(touched, o)
				}
				count[o-1]++
			}
		}
		keep := true
		for _, o := range touched {
			inter := count[o-1]
			count[o-1] = 0
			if float64(inter) > float64(ic.NMS)*float64(min(len(px), area[o-1])) {
				keep = false
			}
		}
		if !keep {
			continue
		}
		area = append(area, len(px))
		count = append(count, 0)
		id := int32(len(area))
		for _, p := range px {
			if l.Pix[p] == 0 {
				l.Pix[p] = id
			}
		}
	}
	l.Relabel()
	return l
}

// rasterPolygon appends to px the indices of the pixels of a w x h image
// whose centres lie inside the polygon with vertices (vy[k], vx[k]), by
// the even-odd rule on each row; cross is scratch space, returned for
// reuse.
func rasterPolygon(px []int32, cross, vy, vx []float64, w, h int) ([]int32, []float64) {
	y0, y1 := math.Inf(1), math.Inf(-1)
	for _, y := range vy {
		y0, y1 = min(y0, y), max(y1, y)
	}
	n := len(vy)
	for r := max(int(math.Ceil(y0)), 0); r <= min(int(math.Floor(y1)), h-1); r++ {
		yr := float64(r)
		cross = cross[:0]
		for k := range n {
			j := (k + 1) % n
			if (vy[k] <= yr) != (vy[j] <= yr) {
				cross = append(cross, vx[k]+(yr-vy[k])*(vx[j]-vx[k])/(vy[j]-vy[k]))
			}
		}
		slices.Sort(cross)
		for i := 0; i+1 < len(cross); i += 2 {
			for x := max(int(math.Ceil(cross[i])), 0); x <= min(int(math.Floor(cross[i+1])), w-1); x++ {
				px = append(px, int32(r*w+x))
			}
		}
	}
	return px, cross
}

// starLoss is StarDist's training loss for a head of rays distances:
// binary cross-entropy of the object probability, plus distWeight times
// the mean absolute error of the distances weighted by each pixel's true
// probability (normalised by that probability's mean, StarDist's
// norm_by_mask), plus bgReg times the mean squared distance predicted on
// background (StarDist penalises the absolute value there; at weight 1e-4
// either is only a slight pull towards 0). Outputs are [..., 1+rays] with
// the distances in pixels, as StarDist's (scaling them down, so that the
// last layer's weights stay small, measured worse on synthetic nuclei: the
// distances' gradient then drowned the probability's). Targets are the true
// probability per pixel and rays distances in pixels per pixel.
type starLoss struct {
	rays int
	out  *tensor.Tensor
	prob []float32
	dist []float32
	norm float64
	grad *tensor.Tensor
}

// Forward returns the loss of out against the targets.
func (s *starLoss) Forward(out *tensor.Tensor, prob, dist []float32) float32 {
	n := 1 + s.rays
	px := out.Len() / n
	if out.Dim(-1) != n || len(prob) != px || len(dist) != px*s.rays {
		panic(fmt.Sprintf("segment: starLoss: output %v, %d probabilities and %d distances for %d rays", out.Shape, len(prob), len(dist), s.rays))
	}
	s.out, s.prob, s.dist = out.Contiguous(), prob, dist
	v := s.out.Values()
	var mu sync.Mutex
	var bce, mask, mae, reg float64
	tensor.Parallel(px, 1024, func(lo, hi int) {
		var b, m, e, g float64
		for p := lo; p < hi; p++ {
			z, t := float64(v[p*n]), float64(prob[p])
			b += (1-t)*z + math.Log1p(math.Exp(-math.Abs(z))) + math.Max(-z, 0)
			m += t
			var a, r float64
			for k := range s.rays {
				pred := float64(v[p*n+1+k])
				a += math.Abs(pred - float64(dist[p*s.rays+k]))
				r += pred * pred
			}
			e += t * a
			g += (1 - t) * r
		}
		mu.Lock()
		bce, mask, mae, reg = bce+b, mask+m, mae+e, reg+g
		mu.Unlock()
	})
	s.norm = mask/float64(px) + 1e-7
	nr := float64(px * s.rays)
	return float32(bce/float64(px) + distWeight*(mae/nr/s.norm+bgReg*reg/nr))
}

// Backward returns the loss's gradient with respect to the last Forward's
// outputs.
func (s *starLoss) Backward() *tensor.Tensor {
	n := 1 + s.rays
	v := s.out.Values()
	px := len(v) / n
	g := tensor.Ensure(&s.grad, s.out.Shape...)
	gv := g.Values()
	nr := float64(px * s.rays)
	tensor.Parallel(px, 1024, func(lo, hi int) {
		for p := lo; p < hi; p++ {
			z, t := float64(v[p*n]), float64(s.prob[p])
			gv[p*n] = float32((1/(1+math.Exp(-z)) - t) / float64(px))
			for k := range s.rays {
				pred := float64(v[p*n+1+k])
				diff := pred - float64(s.dist[p*s.rays+k])
				sign := 0.0
				if diff > 0 {
					sign = 1
				} else if diff < 0 {
					sign = -1
				}
				gv[p*n+1+k] = float32(distWeight * (t*sign/nr/s.norm + bgReg*(1-t)*2*pred/nr))
			}
		}
	})
	return g
}
