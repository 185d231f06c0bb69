package segment

import (
	"math/rand/v2"

	"github.com/deepscope/deepscope/tensor"
)

// trainImage is a training image held in memory as the crops need it: the
// normalised plane quantised to bytes and the class of every pixel.
type trainImage struct {
	w, h int
	q    []uint8 // Normalize's values * 255
	cls  []uint8 // Targets
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

func loadTrain(samples []Sample) ([]trainImage, error) {
	out := make([]trainImage, len(samples))
	err := loadImages(samples, func(i int, img *tensor.Tensor, l *Labels) {
		plane := Normalize(img)
		q := make([]uint8, len(plane))
		for k, v := range plane {
			q[k] = uint8(v*255 + 0.5)
		}
		out[i] = trainImage{w: l.W, h: l.H, q: q, cls: Targets(l)}
	})
	return out, err
}

func loadEval(samples []Sample) ([]evalImage, error) {
	out := make([]evalImage, len(samples))
	err := loadImages(samples, func(i int, img *tensor.Tensor, l *Labels) {
		out[i] = evalImage{name: samples[i].Name, plane: Normalize(img), truth: l}
	})
	return out, err
}

// fillCrop writes a random size x size crop of im, turned by a random
// element of the square's symmetry group (quarter turns and flips) and
// with its contrast and brightness jittered a little, into x (size*size
// network inputs, 2v-1 for plane value v) and its classes into t. Images
// smaller than the crop are mirrored at their edges.
func fillCrop(im *trainImage, size int, rng *rand.Rand, x []float32, t []int) {
	x0 := rng.IntN(max(im.w-size, 0) + 1)
	y0 := rng.IntN(max(im.h-size, 0) + 1)
	d := rng.IntN(8)
	gain := 0.8 + 0.4*rng.Float32()
	shift := 0.2*rng.Float32() - 0.1
	lut := [256]float32{}
	for v := range lut {
		lut[v] = 2*(float32(v)/255*gain+shift) - 1
	}
	for i := 0; i < size; i++ {
		for j := 0; j < size; j++ {
			si, sj := i, j
			if d&1 != 0 {
				si, sj = sj, si
			}
			if d&2 != 0 {
				si = size - 1 - si
			}
			if d&4 != 0 {
				sj = size - 1 - sj
			}
			p := reflect(y0+si, im.h)*im.w + reflect(x0+sj, im.w)
			x[i*size+j] = lut[im.q[p]]
			t[i*size+j] = int(im.cls[p])
		}
	}
}
