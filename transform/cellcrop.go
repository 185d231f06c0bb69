package transform

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/deepscope/deepscope/tensor"
)

// CellCrop normalises the scale of single-cell images: it finds the
// cell's nucleus (FindNucleus), centres a square window on it whose side
// is Scale times the nucleus's diameter, and resamples the window to Size
// x Size pixels. Images taken at another magnification, or with the cell
// off-centre, come out alike; the price is that the absolute size of a
// cell, which tells a small lymphocyte from a monocyte, is measured
// against its own nucleus instead. Where the window leaves the image it is
// filled with the image's background colour (Background). An image with
// no nucleus to find is resized whole. It is deterministic preprocessing;
// rng is not used.
type CellCrop struct {
	Scale float64 // window side over nucleus diameter; 3 when zero
	Size  int     // output side in pixels (required)
}

// Apply implements Transform.
func (cc CellCrop) Apply(img *tensor.Tensor, _ *rand.Rand) *tensor.Tensor {
	out, _, _ := cc.Crop(img)
	return out
}

// Crop is Apply that also returns the nucleus it centred on, or the error
// of FindNucleus when it resized the whole image instead.
func (cc CellCrop) Crop(img *tensor.Tensor) (*tensor.Tensor, Nucleus, error) {
	if cc.Size <= 0 {
		panic(fmt.Sprintf("transform: CellCrop: size %d, want > 0", cc.Size))
	}
	h, w, v := rgb("CellCrop", img)
	nuc, err := FindNucleus(img)
	if err != nil {
		return resample(img, 0, 0, float64(h), float64(w), cc.Size, cc.Size, CatmullRom), nuc, err
	}
	scale := cc.Scale
	if scale == 0 {
		scale = 3
	}
	side := scale * nuc.Diameter
	x0, y0 := nuc.X-side/2, nuc.Y-side/2
	// Pad with the background where the window leaves the image.
	pad := int(math.Ceil(max(0, -x0, -y0, x0+side-float64(w), y0+side-float64(h))))
	src := img
	if pad > 0 {
		src = padded(v, h, w, pad, Background(img))
	}
	return resample(src, y0+float64(pad), x0+float64(pad), side, side, cc.Size, cc.Size, CatmullRom), nuc, nil
}

func (cc CellCrop) String() string {
	return fmt.Sprintf("CellCrop(scale=%g, size=%d)", cc.Scale, cc.Size)
}

// padded returns the image v [h, w, 3] inside a border of p pixels of
// colour fill.
func padded(v []float32, h, w, p int, fill [3]float32) *tensor.Tensor {
	H, W := h+2*p, w+2*p
	out := tensor.New(H, W, 3)
	for i := 0; i < H*W; i++ {
		copy(out.Data[3*i:3*i+3], fill[:])
	}
	for y := range h {
		copy(out.Data[((y+p)*W+p)*3:((y+p)*W+p+w)*3], v[y*w*3:(y+1)*w*3])
	}
	return out
}

// Background returns the colour of an RGB image's empty background: the
// mean colour of its brightest tenth of pixels (by luma). In a smear that
// is the light through glass and plasma.
func Background(img *tensor.Tensor) [3]float32 {
	_, _, v := rgb("Background", img)
	n := len(v) / 3
	luma := make([]float32, n)
	for i := range luma {
		luma[i] = grey(v[3*i], v[3*i+1], v[3*i+2])
	}
	sorted := slices.Clone(luma)
	slices.Sort(sorted)
	t := sorted[min(n-1, n*9/10)]
	var s [3]float64
	k := 0
	for i, l := range luma {
		if l >= t {
			for c := range 3 {
				s[c] += float64(v[3*i+c])
			}
			k++
		}
	}
	var out [3]float32
	for c := range 3 {
		out[c] = float32(s[c] / float64(k))
	}
	return out
}
