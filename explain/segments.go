package explain

import (
	"github.com/deepscope/deepscope/tensor"
)

// segmented is an image cut into superpixels that can be switched on (the
// image's pixels) or off (the reference's), for LIME and SHAP.
type segmented struct {
	*runner
	ref    []float32
	labels []int // superpixel of each pixel
	sizes  []int // pixels per superpixel
	d      int   // number of superpixels
}

// newSegmented runs x once and cuts it into about n superpixels.
func newSegmented(r *runner, ref Reference, n int) (*segmented, error) {
	refImg, err := ref.image(r.x, r.h, r.w, r.c)
	if err != nil {
		return nil, err
	}
	if n <= 0 {
		n = 48
	}
	labels, d := Superpixels(tensor.FromSlice(r.x, r.h, r.w, r.c), n)
	s := &segmented{runner: r, ref: refImg, labels: labels, sizes: make([]int, d), d: d}
	for _, l := range labels {
		s.sizes[l]++
	}
	return s, nil
}

// fill writes the image with superpixel j taken from x where on[j] and
// from the reference elsewhere.
func (s *segmented) fill(img []float32, on []bool) {
	c := s.c
	for p, l := range s.labels {
		src := s.ref
		if on[l] {
			src = s.x
		}
		copy(img[p*c:(p+1)*c], src[p*c:(p+1)*c])
	}
}

// paint returns the map [H, W] that gives each pixel its superpixel's
// value divided by the superpixel's size, so the map adds up to the sum of
// the values and a pixel's value is its share.
func (s *segmented) paint(v []float64) *tensor.Tensor {
	heat := tensor.New(s.h, s.w)
	for p, l := range s.labels {
		heat.Data[p] = float32(v[l] / float64(s.sizes[l]))
	}
	return heat
}
