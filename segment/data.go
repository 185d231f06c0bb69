package segment

import (
	"math"
	"math/rand/v2"

	"github.com/deepscope/deepscope/tensor"
)

// trainImage is a training image held in memory as the crops need it: the
// normalised plane quantised to bytes and the class of every pixel.
type trainImage struct {
	w, h, c int          // size and values per pixel
	q       []uint8      // Normalize's (or NormalizeColour's) values * 255
	cls     []uint8      // Targets, for crops at the image's own scale
	lab     []int32      // the labels, for zoomed crops (Config.Zoom)
	star    *starTargets // ray targets, for a star-convex head (Config.Head "star")
	hv      []int8       // hvTargets, for the hv head (Config.Head "hv")
	contact []uint8      // contactMap, with Config.ContactWeight
	objects []int32      // one pixel of each object, for crops placed on objects (Config.ObjectCrops)
	kind    imageKind    // what kind of microscopy, for Config.Balance
}

// imageKind tells the kinds of image apart that Config.Balance evens out:
// colour or grey (three channels as stored, or one), and fluorescence or
// brightfield (bright objects on a dark background, or dark ones on a
// bright background, which normalisation inverts).
type imageKind uint8

func kindOf(colour, bright bool) imageKind {
	k := imageKind(0)
	if colour {
		k |= 2
	}
	if bright {
		k |= 1
	}
	return k
}

// kindCounts returns how many of images are of each kind.
func kindCounts(images []trainImage) [4]int {
	var n [4]int
	for _, im := range images {
		n[im.kind]++
	}
	return n
}

// String names the kind.
func (k imageKind) String() string {
	return [4]string{"grey fluorescence", "grey brightfield", "colour fluorescence", "colour brightfield"}[k]
}

// evalImage is a hold-out image: its normalised plane and true labels.
type evalImage struct {
	name  string
	plane []float32
	truth *Labels
}

// loadImages reads samples on all threads; the first error wins.
func loadImages(samples []Sample, fn func(i int, img *tensor.Tensor, l *Labels)) error {
	errs := make([]error, len(samples))
	tensor.Parallel(len(samples), 1, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			img, l, err := samples[i].Load()
			if err != nil {
				errs[i] = err
				continue
			}
			fn(i, img, l)
		}
	})
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// loadTrain reads the training images normalised for cfg's network,
// keeping each one's classes, or with zoom its labels (from which zoomed
// crops make their own classes), or for a star-convex head its ray
// targets; with a contact weight also its contactMap.
func loadTrain(samples []Sample, cfg Config) ([]trainImage, error) {
	channels, rays, zoom := cfg.InChannels(), cfg.Instance.Rays, cfg.Zoom > 0
	out := make([]trainImage, len(samples))
	err := loadImages(samples, func(i int, img *tensor.Tensor, l *Labels) {
		plane, bright := normalizeKind(img, channels)
		q := make([]uint8, len(plane))
		for k, v := range plane {
			q[k] = uint8(v*255 + 0.5)
		}
		out[i] = trainImage{w: l.W, h: l.H, c: channels, q: q, kind: kindOf(img.Dim(2) == 3, bright)}
		if cfg.ObjectCrops > 0 {
			out[i].objects = objectPixels(l)
		}
		switch {
		case rays > 0:
			out[i].star = newStarTargets(l, rays)
		case zoom:
			out[i].lab = l.Pix
		default:
			out[i].cls = Targets(l)
		}
		if cfg.Instance.HV {
			out[i].hv = hvTargets(l)
		}
		if cfg.ContactWeight > 0 {
			out[i].contact = contactMap(l, contactSigma)
		}
	})
	return out, err
}

// objectPixels returns one pixel of each object of l, the middle one of
// its pixels in row-major order, so that a crop can be placed on it.
func objectPixels(l *Labels) []int32 {
	counts := map[int32]int32{}
	for _, v := range l.Pix {
		if v != 0 {
			counts[v]++
		}
	}
	seen := make(map[int32]int32, len(counts))
	out := make([]int32, 0, len(counts))
	for p, v := range l.Pix {
		if v == 0 {
			continue
		}
		if seen[v] == counts[v]/2 {
			out = append(out, int32(p))
		}
		seen[v]++
	}
	return out
}

// onObject decides, with probability objects, to place a crop on an
// object of im, and then returns a randomly chosen object's pixel (x, y);
// ok is false otherwise and for an image without objects. With objects 0
// it draws nothing from rng.
func onObject(im *trainImage, objects float64, rng *rand.Rand) (x, y int, ok bool) {
	if objects <= 0 || len(im.objects) == 0 || rng.Float64() >= objects {
		return 0, 0, false
	}
	p := int(im.objects[rng.IntN(len(im.objects))])
	return p % im.w, p / im.w, true
}

func loadEval(samples []Sample, channels int) ([]evalImage, error) {
	out := make([]evalImage, len(samples))
	err := loadImages(samples, func(i int, img *tensor.Tensor, l *Labels) {
		out[i] = evalImage{name: samples[i].Name, plane: normalize(img, channels), truth: l}
	})
	return out, err
}

// fillCrop writes a random size x size crop of im, turned by a random
// element of the square's symmetry group (quarter turns and flips) and
// with its contrast and brightness jittered a little, into x (size*size
// pixels of im.c network inputs, 2v-1 for plane value v) and its targets:
// classes into t and, when im.contact is set, its values scaled to [0, 1]
// into e, and when im.hv is set its maps, turned with the crop (see
// hvTurn), into ht; or for a star-convex image (im.star) the object probabilities
// into pt and the ray distances, renumbered by perms for the turn (see
// turnPerms), into dt. Images smaller than the crop are mirrored
// at their edges (their rays are then those of the mirrored pixel, not
// turned with the mirror). With probability objects the crop is placed
// so that a randomly chosen object of im lies in it (see onObject), else
// anywhere in the image.
func fillCrop(im *trainImage, size int, objects float64, rng *rand.Rand, x []float32, t []int, e, ht, pt, dt []float32, perms *[8][]int) {
	var x0, y0 int
	if cx, cy, ok := onObject(im, objects, rng); ok {
		x0 = min(max(cx-rng.IntN(size), 0), max(im.w-size, 0))
		y0 = min(max(cy-rng.IntN(size), 0), max(im.h-size, 0))
	} else {
		x0 = rng.IntN(max(im.w-size, 0) + 1)
		y0 = rng.IntN(max(im.h-size, 0) + 1)
	}
	d := rng.IntN(8)
	var hvSrc [2]int
	var hvSign [2]float32
	if im.hv != nil {
		hvSrc, hvSign = hvTurn(d)
	}
	gain := 0.8 + 0.4*rng.Float32()
	shift := 0.2*rng.Float32() - 0.1
	lut := [256]float32{}
	for v := range lut {
		lut[v] = 2*(float32(v)/255*gain+shift) - 1
	}
	for i := 0; i < size; i++ {
		for j := 0; j < size; j++ {
			si, sj := turn(d, i, j, size)
			p := reflect(y0+si, im.h)*im.w + reflect(x0+sj, im.w)
			for k := range im.c {
				x[(i*size+j)*im.c+k] = lut[im.q[p*im.c+k]]
			}
			if im.star == nil {
				t[i*size+j] = int(im.cls[p])
				if im.contact != nil {
					e[i*size+j] = float32(im.contact[p]) / 255
				}
				if im.hv != nil {
					o := i*size + j
					for k := range 2 {
						ht[2*o+k] = hvSign[k] * float32(im.hv[2*p+hvSrc[k]]) / 127
					}
				}
				continue
			}
			o := i*size + j
			pt[o] = float32(im.star.prob[p]) / 255
			r := im.star.rays
			ds := dt[o*r : (o+1)*r]
			if a := im.star.at[p]; a < 0 {
				clear(ds)
			} else {
				src := im.star.dist[int(a)*r : int(a+1)*r]
				for k, q := range perms[d] {
					ds[k] = float32(src[q]) / rayUnit
				}
			}
		}
	}
}

// fillZoomedCrop is fillCrop with the crop zoomed by a random factor z,
// log-uniform in [1/(1+zoom), 1+zoom], so that the network sees each
// kind of nucleus at more than one size: the crop covers size/z image
// pixels, its input is read with bilinear interpolation, and its classes
// come from the labels read at the nearest pixel (Targets' rule applied
// to the zoomed labels, so boundaries stay one pixel wide), and im.contact
// (when set) into e, read at the nearest pixel. lab is scratch space for
// (size+2)^2 labels.
func fillZoomedCrop(im *trainImage, size int, zoom, objects float64, rng *rand.Rand, x []float32, t []int, e []float32, lab []int32) {
	z := math.Exp((2*rng.Float64() - 1) * math.Log1p(zoom))
	side := float64(size) / z
	var x0, y0 float64
	if cx, cy, ok := onObject(im, objects, rng); ok {
		x0 = min(max(float64(cx)+0.5-rng.Float64()*side, 0), max(float64(im.w)-side, 0))
		y0 = min(max(float64(cy)+0.5-rng.Float64()*side, 0), max(float64(im.h)-side, 0))
	} else {
		x0 = rng.Float64() * max(float64(im.w)-side, 0)
		y0 = rng.Float64() * max(float64(im.h)-side, 0)
	}
	d := rng.IntN(8)
	gain := 0.8 + 0.4*rng.Float32()
	shift := 0.2*rng.Float32() - 0.1
	// Source coordinate of crop pixel k (before the turn) along an axis.
	src := func(o float64, k int) float64 { return o + (float64(k)+0.5)/z - 0.5 }
	n := size + 2 // labels with a one-pixel margin, so edge pixels know their neighbours
	for i := range n {
		yi := reflect(int(math.Round(src(y0, i-1))), im.h)
		for j := range n {
			lab[i*n+j] = im.lab[yi*im.w+reflect(int(math.Round(src(x0, j-1))), im.w)]
		}
	}
	for i := range size {
		for j := range size {
			si, sj := turn(d, i, j, size)
			fy, fx := src(y0, si), src(x0, sj)
			ry, rx := math.Floor(fy), math.Floor(fx)
			wy, wx := float32(fy-ry), float32(fx-rx)
			ya, yb := reflect(int(ry), im.h)*im.w, reflect(int(ry)+1, im.h)*im.w
			xa, xb := reflect(int(rx), im.w), reflect(int(rx)+1, im.w)
			c := im.c
			for k := range c {
				v := (1-wy)*((1-wx)*float32(im.q[(ya+xa)*c+k])+wx*float32(im.q[(ya+xb)*c+k])) +
					wy*((1-wx)*float32(im.q[(yb+xa)*c+k])+wx*float32(im.q[(yb+xb)*c+k]))
				x[(i*size+j)*c+k] = 2*(v/255*gain+shift) - 1
			}
			at := (si+1)*n + sj + 1
			cls := Background
			if v := lab[at]; v != 0 {
				cls = Interior
				for _, o := range [8]int{-n - 1, -n, -n + 1, -1, 1, n - 1, n, n + 1} {
					if lab[at+o] != v {
						cls = Boundary
						break
					}
				}
			}
			t[i*size+j] = cls
			if im.contact != nil {
				e[i*size+j] = float32(im.contact[reflect(int(math.Round(fy)), im.h)*im.w+reflect(int(math.Round(fx)), im.w)]) / 255
			}
		}
	}
}

// turn maps pixel (i, j) of a size x size crop through element d (0..7)
// of the square's symmetry group: bit 0 transposes, bit 1 flips rows and
// bit 2 flips columns.
func turn(d, i, j, size int) (si, sj int) {
	si, sj = i, j
	if d&1 != 0 {
		si, sj = sj, si
	}
	if d&2 != 0 {
		si = size - 1 - si
	}
	if d&4 != 0 {
		sj = size - 1 - sj
	}
	return si, sj
}
