package data

import (
	"fmt"
	"math"

	"github.com/deepscope/deepscope/tensor"
)

// Preprocess is the fixed, deterministic preparation every image of a run
// gets before augmentation: a centre crop, a resize and a channel count.
// The Loader caches its result. BloodMNIST's 28-pixel protocol on the
// 360x360 PBC fields is Preprocess{Size: 28, Crop: 200.0 / 360}.
type Preprocess struct {
	// Size is the side of the square output; 0 keeps the cropped size.
	Size int
	// Crop is the fraction of the shorter side kept by a centre square crop
	// (with sub-pixel precision); 0 or 1 keeps the whole image.
	Crop float64
	// Channels is 1 (grey, by luma), 3 (RGB; grey is replicated) or 0 (as
	// decoded).
	Channels int
	// Prepare, when set, runs first on every decoded image: a fixed,
	// deterministic step such as stain normalisation or a cell-centred
	// crop (package shift's Preparation). It is called with a nil rng,
	// from several goroutines at once, and must not keep or change img.
	Prepare Transform
}

// Validate reports a field out of range.
func (p Preprocess) Validate() error {
	switch {
	case p.Size < 0:
		return fmt.Errorf("data: preprocess size %d is negative", p.Size)
	case p.Crop < 0 || p.Crop > 1 || math.IsNaN(p.Crop):
		return fmt.Errorf("data: preprocess crop %g is not in [0, 1]", p.Crop)
	case p.Channels != 0 && p.Channels != 1 && p.Channels != 3:
		return fmt.Errorf("data: preprocess channels %d is not 0, 1 or 3", p.Channels)
	}
	return nil
}

// Identity reports whether p leaves images unchanged.
func (p Preprocess) Identity() bool {
	return p.Prepare == nil && p.Size == 0 && (p.Crop == 0 || p.Crop == 1) && p.Channels == 0
}

// keeps reports whether p leaves an image of shape sh ([H, W, C]) unchanged.
func (p Preprocess) keeps(sh [3]int) bool {
	return p.Prepare == nil && (p.Crop == 0 || p.Crop == 1) && (p.Size == 0 || p.Size == sh[0] && p.Size == sh[1]) &&
		(p.Channels == 0 || p.Channels == sh[2])
}

// Apply returns img [H, W, C] cropped, resized and converted as p says.
// img itself is returned when there is nothing to do. Downscaling is
// antialiased: the Catmull-Rom kernel is widened by the scale factor, as
// PIL's resize does, so no input pixel is skipped.
func (p Preprocess) Apply(img *tensor.Tensor) *tensor.Tensor { return p.apply(img, nil, nil) }

// apply is Apply with the resized image in *out and the resampler's rows in
// *scratch, reused when large enough (nil: fresh memory).
func (p Preprocess) apply(img *tensor.Tensor, out **tensor.Tensor, scratch *[]float32) *tensor.Tensor {
	if img.Dims() != 3 {
		panic(fmt.Sprintf("data: Preprocess.Apply of shape %v, want [H, W, C]", img.Shape))
	}
	if p.Prepare != nil {
		img = p.Prepare.Apply(img, nil)
	}
	img = img.Contiguous()
	h, w := img.Shape[0], img.Shape[1]
	x0, y0, x1, y1 := 0.0, 0.0, float64(w), float64(h)
	if p.Crop > 0 && p.Crop < 1 {
		s := p.Crop * float64(min(w, h))
		x0, y0 = (float64(w)-s)/2, (float64(h)-s)/2
		x1, y1 = x0+s, y0+s
	}
	ow, oh := p.Size, p.Size
	if p.Size == 0 {
		ow, oh = max(1, int(math.Round(x1-x0))), max(1, int(math.Round(y1-y0)))
	}
	if ow != w || oh != h || x0 != 0 || y0 != 0 || x1 != float64(w) || y1 != float64(h) {
		img = resize(img, x0, y0, x1, y1, oh, ow, out, scratch)
	}
	return convertChannels(img, p.Channels)
}

// convertChannels returns img with c channels (0: unchanged).
func convertChannels(img *tensor.Tensor, c int) *tensor.Tensor {
	h, w, have := img.Shape[0], img.Shape[1], img.Shape[2]
	if c == 0 || c == have {
		return img
	}
	out := tensor.New(h, w, c)
	src, dst := img.Data, out.Data
	switch {
	case have == 1 && c == 3:
		for i, v := range src[:h*w] {
			dst[3*i], dst[3*i+1], dst[3*i+2] = v, v, v
		}
	case have == 3 && c == 1:
		for i := range dst {
			dst[i] = 0.299*src[3*i] + 0.587*src[3*i+1] + 0.114*src[3*i+2]
		}
	default:
		panic(fmt.Sprintf("data: cannot convert %d channels to %d", have, c))
	}
	return out
}
