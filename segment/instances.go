package segment

import "fmt"

// InstanceConfig says how per-pixel probabilities become objects. The zero
// value means the defaults.
type InstanceConfig struct {
	// Foreground: a pixel belongs to some object when its probability of
	// not being background exceeds this (default 0.5).
	Foreground float32 `json:"foreground,omitempty"`
	// Seed: a pixel is an object's interior, a seed of the growth, when
	// its interior probability exceeds this (default 0.5).
	Seed float32 `json:"seed,omitempty"`
	// MinSeed drops seeds of fewer pixels (default 4), specks of interior
	// where the network is unsure; their pixels are then claimed by a
	// neighbour's growth or form an unseeded object.
	MinSeed int `json:"min_seed,omitempty"`
	// MinArea drops objects of fewer pixels in the end (default 15, as
	// Cellpose's min_size).
	MinArea int `json:"min_area,omitempty"`
	// Rays is the number of directions of a star-convex head (Config.Head
	// "star"); 0 means the three-class head, whose output Foreground and
	// Seed read. A star-convex head's objects are its polygons proposed
	// by pixels of object probability above Foreground (see
	// starInstances); Seed and MinSeed are then unused.
	Rays int `json:"rays,omitempty"`
	// NMS is the overlap (intersection over the smaller polygon) above
	// which a star-convex proposal is suppressed by a more probable kept
	// one (default 0.4, as StarDist's).
	NMS float32 `json:"nms,omitempty"`
	// MinConfidence drops objects whose mean foreground probability over
	// their pixels is below it (0, the default: keep all): specks of
	// debris and faint cytoplasm the network is unsure of, which a pixel
	// threshold lets through at their most confident pixels. Three-class
	// head only (see Segment); a star-convex head's polygons are already
	// proposed by confident pixels alone.
	MinConfidence float32 `json:"min_confidence,omitempty"`
	// HV marks the hv head (Config.Head "hv"): the three classes plus
	// HoVer-Net's distance maps (see hv.go), whose steepness, where they
	// fall (hvEnergy), cuts seeds and guides growth.
	HV bool `json:"hv,omitempty"`
	// Energy: with HV, a pixel seeds an object only where the maps fall
	// by less than this per pixel (default 0.05, about what tuning chose
	// on DSB2018).
	Energy float32 `json:"energy,omitempty"`
}

// WithDefaults fills zero fields with the defaults.
func (c InstanceConfig) WithDefaults() InstanceConfig {
	if c.Foreground == 0 {
		c.Foreground = 0.5
	}
	if c.Seed == 0 {
		c.Seed = 0.5
	}
	if c.MinSeed == 0 {
		c.MinSeed = 4
	}
	if c.MinArea == 0 {
		c.MinArea = 15
	}
	if c.Rays > 0 && c.NMS == 0 {
		c.NMS = 0.4
	}
	if c.HV && c.Energy == 0 {
		c.Energy = 0.05
	}
	return c
}

// Outputs returns how many values the network gives per pixel for the head
// c describes: NumClasses, NumClasses and the two maps of the hv head, or
// the object probability and Rays distances.
func (c InstanceConfig) Outputs() int {
	switch {
	case c.Rays > 0:
		return 1 + c.Rays
	case c.HV:
		return hvOutputs
	}
	return NumClasses
}

// Instances turns a head's per-pixel output into labelled objects: with
// cfg.Rays > 0 star-convex polygons (see starInstances), otherwise as
// follows. probs holds cfg.Outputs() values per pixel (background,
// interior, boundary; for the hv head then its two maps), row-major, for
// a w x h image.
//
//  1. Seeds are the 4-connected components of the interior pixels (for
//     the hv head, those where the maps fall by less than cfg.Energy per
//     pixel; see hvEnergy).
//  2. Seeds grow into the foreground, one pixel at a time, always through
//     the pixel of lowest boundary probability next to some object (a
//     watershed on the boundary probability, by a priority flood; for the
//     hv head, on the larger of it and the maps' fall). Growth meets where
//     the boundary is most likely, which splits touching objects along
//     the line the network drew between them.
//  3. Foreground that no seed reaches (an object whose interior the network
//     missed) becomes objects of its own, one per 4-connected component.
//
// Objects are numbered 1..n; MinArea is not applied here (see Segment,
// which applies it after stitching windows together).
func Instances(probs []float32, w, h int, cfg InstanceConfig) *Labels {
	cfg = cfg.WithDefaults()
	if cfg.Rays > 0 {
		return starInstances(probs, w, h, cfg)
	}
	no := cfg.Outputs()
	if len(probs) != w*h*no {
		panic(fmt.Sprintf("segment: Instances: %d values for %dx%d pixels of %d", len(probs), w, h, no))
	}
	n := w * h
	fg := make([]bool, n)
	seed := make([]bool, n)
	level := make([]uint8, n) // the growth's: boundary probability (or the maps' fall) in 256 steps
	var energy []float32
	if cfg.HV {
		energy = hvEnergy(probs, w, h)
	}
	for i := range n {
		p := probs[i*no : (i+1)*no]
		fg[i] = 1-p[Background] > cfg.Foreground
		seed[i] = fg[i] && p[Interior] > cfg.Seed
		b := p[Boundary]
		if energy != nil {
			seed[i] = seed[i] && energy[i] < cfg.Energy
			b = max(b, energy[i])
		}
		level[i] = uint8(min(max(b*255+0.5, 0), 255))
	}
	l := NewLabels(w, h)
	next := label4(l, seed, 1, cfg.MinSeed)

	// Priority flood from the seeds: always grow through the queued pixel
	// of lowest level (the boundary probability in 256 steps), first come
	// first served within a level, as scikit-image's watershed does. A
	// pixel takes the label of the neighbour that queued it.
	var queue [256][]int32
	var head [256]int
	cur := 0
	push := func(from int) {
		x, y := from%w, from/w
		for _, q := range neighbours4(x, y, w, h) {
			if q >= 0 && fg[q] && l.Pix[q] == 0 {
				l.Pix[q] = l.Pix[from]
				lv := int(level[q])
				queue[lv] = append(queue[lv], int32(q))
				cur = min(cur, lv)
			}
		}
	}
	var seeds []int
	for i, v := range l.Pix {
		if v != 0 {
			seeds = append(seeds, i)
		}
	}
	for _, i := range seeds { // not while scanning l: pushing labels more pixels
		push(i)
	}
	for {
		for cur < 256 && head[cur] == len(queue[cur]) {
			queue[cur], head[cur] = queue[cur][:0], 0
			cur++
		}
		if cur == 256 {
			break
		}
		p := queue[cur][head[cur]]
		head[cur]++
		push(int(p))
	}

	rest := make([]bool, n)
	for i := range n {
		rest[i] = fg[i] && l.Pix[i] == 0
	}
	label4(l, rest, next, 1)
	return l
}

// neighbours4 returns the indices of the 4 neighbours of (x, y), -1 for
// those outside the image.
func neighbours4(x, y, w, h int) [4]int {
	nb := [4]int{-1, -1, -1, -1}
	i := y*w + x
	if x > 0 {
		nb[0] = i - 1
	}
	if x < w-1 {
		nb[1] = i + 1
	}
	if y > 0 {
		nb[2] = i - w
	}
	if y < h-1 {
		nb[3] = i + w
	}
	return nb
}

// label4 gives each 4-connected component of mask (where l is still 0) of
// at least minSize pixels a new label, starting at next, and returns the
// next unused label.
func label4(l *Labels, mask []bool, next int32, minSize int) int32 {
	seen := make([]bool, len(mask))
	var comp []int
	for i, m := range mask {
		if !m || seen[i] || l.Pix[i] != 0 {
			continue
		}
		comp = append(comp[:0], i)
		seen[i] = true
		for k := 0; k < len(comp); k++ {
			p := comp[k]
			for _, q := range neighbours4(p%l.W, p/l.W, l.W, l.H) {
				if q >= 0 && mask[q] && !seen[q] && l.Pix[q] == 0 {
					seen[q] = true
					comp = append(comp, q)
				}
			}
		}
		if len(comp) < minSize {
			continue
		}
		for _, p := range comp {
			l.Pix[p] = next
		}
		next++
	}
	return next
}

// thresholds names the thresholds c's head uses, with their values.
func (c InstanceConfig) thresholds() string {
	if c.Rays > 0 {
		return fmt.Sprintf("object probability %.2f, NMS overlap %.2f, min area %d px", c.Foreground, c.NMS, c.MinArea)
	}
	t := fmt.Sprintf("foreground %.2f, seed %.2f, min area %d px, min confidence %.2f", c.Foreground, c.Seed, c.MinArea, c.MinConfidence)
	if c.HV {
		t += fmt.Sprintf(", energy %.2f", c.Energy)
	}
	return t
}
