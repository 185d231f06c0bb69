package segment

import "fmt"

// ProbFunc gives the head's per-pixel output for one window of a
// normalised image: plane holds w*h pixels of one value (see Normalize) or
// three (NormalizeColour), the result NumClasses class probabilities per
// pixel, or for a star-convex head the object probability and the ray
// distances (see Instances). Model.Probs is one.
type ProbFunc func(plane []float32, w, h int) []float32

// TileConfig says how an image is cut into windows for inference. The zero
// value means the defaults.
type TileConfig struct {
	// Tile is the side of a window in pixels (default 256). An image no
	// larger than Tile on a side is one window on that side.
	Tile int `json:"tile,omitempty"`
	// Overlap is how much neighbouring windows share (default 64). Each
	// window's result is kept in its core, half the overlap away from its
	// edges (except at the image's edges), and objects are stitched across
	// the cores' borders by comparing what both windows saw in the shared
	// strip.
	Overlap int `json:"overlap,omitempty"`
}

// WithDefaults fills zero fields with the defaults.
func (c TileConfig) WithDefaults() TileConfig {
	if c.Tile == 0 {
		c.Tile = 256
	}
	if c.Overlap == 0 {
		c.Overlap = 64
	}
	return c
}

// Validate reports an impossible layout.
func (c TileConfig) Validate() error {
	if c.Tile < 16 || c.Overlap < 0 || c.Overlap >= c.Tile {
		return fmt.Errorf("segment: tile %d with overlap %d: want a tile of 16 pixels or more and an overlap in [0, tile)", c.Tile, c.Overlap)
	}
	return nil
}

// span is one window along an axis, [w0, w1), and the core of it whose
// result is kept, [c0, c1). The cores of an axis partition it.
type span struct{ w0, w1, c0, c1 int }

// spans lays windows of length tile over [0, n), overlapping by at least
// overlap; the last window is shifted back to end at n, and each border
// between cores sits in the middle of the two windows' overlap.
func spans(n, tile, overlap int) []span {
	if n <= tile {
		return []span{{0, n, 0, n}}
	}
	stride := tile - overlap
	k := (n-tile+stride-1)/stride + 1
	s := make([]span, k)
	for i := range s {
		s[i].w0 = min(i*stride, n-tile)
		s[i].w1 = s[i].w0 + tile
	}
	s[k-1].c1 = n
	for i := 1; i < k; i++ {
		cut := (s[i].w0 + s[i-1].w1) / 2
		s[i-1].c1, s[i].c0 = cut, cut
	}
	return s
}

// Segment finds the objects of a normalised image (plane, w*h pixels of one
// or more values each, channels last) with probabilities from prob, window
// by window (see TileConfig), and returns their labels, numbered 1..n in
// raster order, with objects smaller than ic.MinArea removed and, for the
// three-class head, objects whose mean foreground probability (1 minus
// the background probability, over the object's pixels as written from
// each window's core) is below ic.MinConfidence.
//
// Windows are processed in raster order. Each window's objects are found
// with Instances on the whole window, so objects near its core's border
// are seen with context on both sides; only the core's pixels are written.
// An object of this window takes the label of an earlier window's object
// when the two agree on the strip they share (the part of this window in
// cores already written): their pixels there have an IoU of 0.5 or more.
// Otherwise it gets a new label. An object crossing any number of window
// borders thus keeps one label.
//
// Memory beyond the plane is one int32 per pixel for the labels and, per
// window, the window's input, probabilities and local labels: the network
// never sees more than one window, whatever the image's size.
func Segment(plane []float32, w, h int, prob ProbFunc, tc TileConfig, ic InstanceConfig) *Labels {
	c := channelsOf(plane, w, h)
	var win []float32
	return segmentWindows(w, h, tc, ic, func(xs, ys span) []float32 {
		win = window(win, plane, w, c, xs, ys)
		return prob(win, xs.w1-xs.w0, ys.w1-ys.w0)
	})
}

// channelsOf returns how many values plane holds per pixel of a w x h
// image.
func channelsOf(plane []float32, w, h int) int {
	if w*h == 0 || len(plane) == 0 || len(plane)%(w*h) != 0 {
		panic(fmt.Sprintf("segment: %d values for %dx%d pixels", len(plane), w, h))
	}
	return len(plane) / (w * h)
}

// window copies the window xs x ys of a plane of width w and c values per
// pixel into buf and returns it.
func window(buf, plane []float32, w, c int, xs, ys span) []float32 {
	buf = buf[:0]
	for y := ys.w0; y < ys.w1; y++ {
		buf = append(buf, plane[(y*w+xs.w0)*c:(y*w+xs.w1)*c]...)
	}
	return buf
}

// segmentWindows is Segment with the windows' probabilities given by
// probs, called once per window in raster order.
func segmentWindows(w, h int, tc TileConfig, ic InstanceConfig, probs func(xs, ys span) []float32) *Labels {
	tc, ic = tc.WithDefaults(), ic.WithDefaults()
	if err := tc.Validate(); err != nil {
		panic(err.Error())
	}
	g := NewLabels(w, h)
	for i := range g.Pix {
		g.Pix[i] = -1 // not written yet
	}
	next := int32(1)
	conf := ic.MinConfidence > 0 && ic.Rays == 0
	no := ic.Outputs()
	var fgSum []float64 // per object, its pixels' foreground probabilities added up
	var fgN []int       // and its pixels
	for _, ys := range spans(h, tc.Tile, tc.Overlap) {
		for _, xs := range spans(w, tc.Tile, tc.Overlap) {
			p := probs(xs, ys)
			local := Instances(p, xs.w1-xs.w0, ys.w1-ys.w0, ic)
			next = stitch(g, local, xs, ys, next)
			if !conf {
				continue
			}
			for len(fgN) < int(next) {
				fgSum, fgN = append(fgSum, 0), append(fgN, 0)
			}
			for y := ys.c0; y < ys.c1; y++ {
				for x := xs.c0; x < xs.c1; x++ {
					if v := g.Pix[y*w+x]; v > 0 {
						fgSum[v] += float64(1 - p[((y-ys.w0)*(xs.w1-xs.w0)+x-xs.w0)*no+Background])
						fgN[v]++
					}
				}
			}
		}
	}
	if conf {
		for i, v := range g.Pix {
			if v > 0 && fgSum[v] < float64(ic.MinConfidence)*float64(fgN[v]) {
				g.Pix[i] = 0
			}
		}
	}
	g.RemoveSmall(ic.MinArea)
	return g
}

// stitch writes the core of one window's local labels into g, giving each
// local object the label of the earlier object it matches on the written
// strip, or a new label from next; it returns the next unused label.
func stitch(g, local *Labels, xs, ys span, next int32) int32 {
	type pair struct{ u, g int32 }
	inZ := map[int32]int{}    // local object -> its pixels in the strip
	gInZ := map[int32]int{}   // earlier object -> its pixels in the strip
	overlap := map[pair]int{} // pixels in common
	for y := ys.w0; y < ys.w1; y++ {
		for x := xs.w0; x < xs.w1; x++ {
			gv := g.Pix[y*g.W+x]
			if gv < 0 {
				continue
			}
			u := local.Pix[(y-ys.w0)*local.W+(x-xs.w0)]
			if u > 0 {
				inZ[u]++
			}
			if gv > 0 {
				gInZ[gv]++
				if u > 0 {
					overlap[pair{u, gv}]++
				}
			}
		}
	}
	best := map[int32]pair{} // local object -> (earlier object, overlap)
	for p, c := range overlap {
		b, ok := best[p.u]
		if !ok || c > int(b.u) || (c == int(b.u) && p.g < b.g) {
			best[p.u] = pair{int32(c), p.g}
		}
	}
	assign := make([]int32, local.Max()+1)
	for u := int32(1); u < int32(len(assign)); u++ {
		if b, ok := best[u]; ok {
			c := int(b.u)
			if 2*c >= inZ[u]+gInZ[b.g]-c { // IoU >= 0.5
				assign[u] = b.g
				continue
			}
		}
		assign[u] = next
		next++
	}
	for y := ys.c0; y < ys.c1; y++ {
		for x := xs.c0; x < xs.c1; x++ {
			g.Pix[y*g.W+x] = assign[local.Pix[(y-ys.w0)*local.W+(x-xs.w0)]]
		}
	}
	return next
}
