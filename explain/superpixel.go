package explain

import (
	"fmt"
	"math"

	"github.com/deepscope/deepscope/tensor"
)

// Superpixels cuts img [H, W, C] into about n compact regions of similar
// colour with SLIC (Achanta et al., 2012): k-means on colour and position,
// each centre searching a window of twice the grid step around itself,
// followed by merging fragments smaller than a quarter of a grid cell into
// a neighbour so every region is connected. Colour distances are measured
// in units of the image's own standard deviation, so the cut does not
// depend on how the image was normalised. It returns a label in [0, k) for
// each pixel (row-major) and k.
func Superpixels(img *tensor.Tensor, n int) (labels []int, k int) {
	if img.Dims() != 3 {
		panic(fmt.Sprintf("explain: Superpixels of shape %v, want [H, W, C]", img.Shape))
	}
	h, w, c := img.Dim(0), img.Dim(1), img.Dim(2)
	px := img.Contiguous().Values()
	n = min(max(n, 1), h*w)
	step := math.Sqrt(float64(h*w) / float64(n))
	ny := max(1, int(math.Round(float64(h)/step)))
	nx := max(1, int(math.Round(float64(w)/step)))
	sy, sx := float64(h)/float64(ny), float64(w)/float64(nx)

	// Colour scale: the pooled standard deviation of the channels.
	var mean, sq float64
	for _, v := range px {
		mean += float64(v)
	}
	mean /= float64(len(px))
	for _, v := range px {
		sq += (float64(v) - mean) * (float64(v) - mean)
	}
	sigma := math.Sqrt(sq / float64(len(px)))
	if sigma == 0 {
		sigma = 1
	}
	const compactness = 2 // a grid step weighs as much as two standard deviations of colour
	spatial := compactness / math.Sqrt(sy*sx)

	type centre struct {
		y, x float64
		col  []float64
	}
	cs := make([]centre, 0, ny*nx)
	for i := 0; i < ny; i++ {
		for j := 0; j < nx; j++ {
			y, x := (float64(i)+0.5)*sy, (float64(j)+0.5)*sx
			p := int(y)*w + int(x)
			col := make([]float64, c)
			for ch := range col {
				col[ch] = float64(px[p*c+ch]) / sigma
			}
			cs = append(cs, centre{y, x, col})
		}
	}
	labels = make([]int, h*w)
	dist := make([]float64, h*w)
	win := 2 * math.Max(sy, sx)
	for iter := 0; iter < 10; iter++ {
		for i := range dist {
			dist[i] = math.Inf(1)
		}
		for ci, ce := range cs {
			y0, y1 := max(0, int(ce.y-win)), min(h, int(ce.y+win)+1)
			x0, x1 := max(0, int(ce.x-win)), min(w, int(ce.x+win)+1)
			for y := y0; y < y1; y++ {
				for x := x0; x < x1; x++ {
					p := y*w + x
					var dc float64
					for ch, v := range ce.col {
						d := float64(px[p*c+ch])/sigma - v
						dc += d * d
					}
					dy, dx := (float64(y)+0.5-ce.y)*spatial, (float64(x)+0.5-ce.x)*spatial
					if d := dc + dy*dy + dx*dx; d < dist[p] {
						dist[p], labels[p] = d, ci
					}
				}
			}
		}
		cnt := make([]int, len(cs))
		for ci := range cs {
			cs[ci].y, cs[ci].x = 0, 0
			clear(cs[ci].col)
		}
		for p, l := range labels {
			cnt[l]++
			cs[l].y += float64(p/w) + 0.5
			cs[l].x += float64(p%w) + 0.5
			for ch := range cs[l].col {
				cs[l].col[ch] += float64(px[p*c+ch]) / sigma
			}
		}
		for ci := range cs {
			if cnt[ci] == 0 {
				cs[ci].y, cs[ci].x = -4*win, -4*win // gone: its window holds no pixel
				continue
			}
			f := 1 / float64(cnt[ci])
			cs[ci].y *= f
			cs[ci].x *= f
			for ch := range cs[ci].col {
				cs[ci].col[ch] *= f
			}
		}
	}
	return connectRegions(labels, px, h, w, c, max(1, int(sy*sx/4)))
}

// connectRegions relabels labels [h*w] so each region is 4-connected:
// connected pieces of at least minSize pixels become regions of their own,
// smaller ones join the neighbouring region closest to them in mean colour
// (px [h*w*c]). Labels come out as 0..k-1 in raster order of first
// appearance.
func connectRegions(labels []int, px []float32, h, w, c, minSize int) ([]int, int) {
	out := make([]int, len(labels))
	for i := range out {
		out[i] = -1
	}
	k := 0
	queue := make([]int, 0, len(labels))
	nbrs := func(p int, fn func(q int)) {
		y, x := p/w, p%w
		if x > 0 {
			fn(p - 1)
		}
		if y > 0 {
			fn(p - w)
		}
		if x+1 < w {
			fn(p + 1)
		}
		if y+1 < h {
			fn(p + w)
		}
	}
	var small [][]int // pieces to merge afterwards
	for start := range labels {
		if out[start] >= 0 {
			continue
		}
		queue = append(queue[:0], start)
		out[start] = k
		for i := 0; i < len(queue); i++ {
			nbrs(queue[i], func(q int) {
				if out[q] < 0 && labels[q] == labels[start] {
					out[q] = k
					queue = append(queue, q)
				}
			})
		}
		if len(queue) < minSize {
			small = append(small, append([]int(nil), queue...))
		}
		k++
	}
	// Merge small pieces into a neighbouring region through a union-find,
	// so a piece that joins another small piece follows it wherever that
	// one goes; two passes leave no piece small unless it has no neighbour.
	parent := make([]int, k)
	size := make([]int, k)
	colour := make([]float64, k*c) // colour sums per region
	for i := range parent {
		parent[i] = i
	}
	for p, l := range out {
		size[l]++
		for ch := range c {
			colour[l*c+ch] += float64(px[p*c+ch])
		}
	}
	find := func(l int) int {
		for parent[l] != l {
			parent[l] = parent[parent[l]]
			l = parent[l]
		}
		return l
	}
	gap := func(a, b int) float64 {
		var d float64
		for ch := range c {
			v := colour[a*c+ch]/float64(size[a]) - colour[b*c+ch]/float64(size[b])
			d += v * v
		}
		return d
	}
	for pass := 0; pass < 2; pass++ {
		for _, piece := range small {
			l := find(out[piece[0]])
			if size[l] >= minSize {
				continue
			}
			to, best := -1, math.Inf(1)
			for _, p := range piece {
				nbrs(p, func(q int) {
					if r := find(out[q]); r != l {
						if d := gap(l, r); d < best {
							to, best = r, d
						}
					}
				})
			}
			if to >= 0 {
				parent[l] = to
				size[to] += size[l]
				for ch := range c {
					colour[to*c+ch] += colour[l*c+ch]
				}
			}
		}
	}
	for i, l := range out {
		out[i] = find(l)
	}
	remap := map[int]int{}
	for i, l := range out {
		j, ok := remap[l]
		if !ok {
			j = len(remap)
			remap[l] = j
		}
		out[i] = j
	}
	return out, len(remap)
}
