package segment

import (
	"fmt"

	"github.com/deepscope/deepscope/tensor"
)

// Pixel classes of the network's output.
const (
	Background = 0
	Interior   = 1
	Boundary   = 2
	NumClasses = 3
)

// Percentiles of the per-image intensity scaling done by Normalize, as in
// StarDist's and CSBDeep's normalize(img, 1, 99.8).
const (
	lowPercentile  = 1.0
	highPercentile = 99.8
)

// Normalize turns an image [H, W, C] in [0, 1] (C = 1 or 3) into the
// network's input: one grey plane of H*W values, row-major. Colour is
// reduced to luminance (0.299 R + 0.587 G + 0.114 B); intensities are
// scaled so that the image's 1st percentile maps to 0 and its 99.8th to 1,
// then clipped to [0, 1]; an image whose mean is then above one half (dark
// nuclei on a bright field, as in brightfield and H&E) is inverted, so that
// objects are always bright. Each image is normalised on its own, which
// makes the network indifferent to exposure and stain strength.
func Normalize(img *tensor.Tensor) []float32 {
	if img.Dims() != 3 || (img.Dim(2) != 1 && img.Dim(2) != 3) {
		panic(fmt.Sprintf("segment: Normalize: image shape %v, want [H, W, 1 or 3]", img.Shape))
	}
	out, _ := normalizeGrey(img)
	return out
}

// normalizeGrey is Normalize, also saying whether the image was inverted
// (a bright field).
func normalizeGrey(img *tensor.Tensor) (out []float32, inverted bool) {
	out = greyPlane(img)
	stretch(out, out)
	var sum float64
	for _, y := range out {
		sum += float64(y)
	}
	if inverted = sum > 0.5*float64(len(out)); inverted {
		invert(out)
	}
	return out, inverted
}

// stretch writes v scaled so that its 1st percentile maps to 0 and its
// 99.8th to 1, clipped to [0, 1], into dst (which may be v).
func stretch(dst, v []float32) {
	lo, hi := percentiles(v, lowPercentile, highPercentile)
	scale := float32(0)
	if hi > lo {
		scale = 1 / (hi - lo)
	}
	for i, x := range v {
		dst[i] = min(max((x-lo)*scale, 0), 1)
	}
}

// invert maps every value x of v to 1 - x.
func invert(v []float32) {
	for i, x := range v {
		v[i] = 1 - x
	}
}

// NormalizeColour is Normalize keeping colour, for networks with three
// input channels (Config.Colour): the result holds H*W*3 values,
// pixel-interleaved (channels last). Each channel is scaled between its own
// 1st and 99.8th percentiles and clipped to [0, 1]; a grey image is
// repeated into the three channels. An image whose scaled luminance has a
// mean above one half (a bright field, as in H&E and other stained
// brightfield images) has every channel inverted, as Normalize inverts
// grey, so that objects are bright while the hue that tells a stained
// nucleus from cytoplasm is kept. A grey image thus gives three copies of
// Normalize's plane.
func NormalizeColour(img *tensor.Tensor) []float32 {
	if img.Dims() != 3 || (img.Dim(2) != 1 && img.Dim(2) != 3) {
		panic(fmt.Sprintf("segment: NormalizeColour: image shape %v, want [H, W, 1 or 3]", img.Shape))
	}
	out, _ := normalizeColour(img)
	return out
}

// normalizeColour is NormalizeColour, also saying whether the image was
// inverted (a bright field).
func normalizeColour(img *tensor.Tensor) (out []float32, inverted bool) {
	n := img.Dim(0) * img.Dim(1)
	out = make([]float32, 3*n)
	if img.Dim(2) == 1 {
		grey, inv := normalizeGrey(img)
		for i, v := range grey {
			out[3*i], out[3*i+1], out[3*i+2] = v, v, v
		}
		return out, inv
	}
	v := img.Contiguous().Values()
	ch := make([]float32, n)
	for c := range 3 {
		for i := range ch {
			ch[i] = v[3*i+c]
		}
		stretch(ch, ch)
		for i, x := range ch {
			out[3*i+c] = x
		}
	}
	var sum float64
	for i := range n {
		sum += float64(0.299*out[3*i] + 0.587*out[3*i+1] + 0.114*out[3*i+2])
	}
	if inverted = sum > 0.5*float64(n); inverted {
		invert(out)
	}
	return out, inverted
}

// normalize is NormalizeColour for three channels, else Normalize.
func normalize(img *tensor.Tensor, channels int) []float32 {
	out, _ := normalizeKind(img, channels)
	return out
}

// normalizeKind is normalize, also saying whether the image was inverted
// (a bright field).
func normalizeKind(img *tensor.Tensor, channels int) ([]float32, bool) {
	if channels == 3 {
		return normalizeColour(img)
	}
	return normalizeGrey(img)
}

// percentiles returns the p-th and q-th percentiles of v, read from a
// 4096-bin histogram spanning v's range (so to within 1/4096 of it, however
// little of [0, 1] a dim 16-bit image uses).
func percentiles(v []float32, p, q float64) (lo, hi float32) {
	if len(v) == 0 {
		return 0, 0
	}
	vmin, vmax := v[0], v[0]
	for _, x := range v {
		vmin, vmax = min(vmin, x), max(vmax, x)
	}
	if vmax <= vmin {
		return vmin, vmax
	}
	const bins = 4096
	var hist [bins]int
	scale := bins / (vmax - vmin)
	for _, x := range v {
		hist[min(int((x-vmin)*scale), bins-1)]++
	}
	at := func(pct float64) float32 {
		target := int(pct / 100 * float64(len(v)))
		n := 0
		for b, k := range hist {
			n += k
			if n > target {
				return vmin + (float32(b)+0.5)/scale
			}
		}
		return vmax
	}
	return at(p), at(q)
}

// Targets returns the class of every pixel of l, row-major: Background
// where the label is 0, Boundary for an object's pixels that have one of
// their 8 neighbours outside the object (background or another object;
// pixels beyond the image's edge do not count), Interior for the rest. Two
// touching objects are thus parted by a boundary two pixels wide.
func Targets(l *Labels) []uint8 {
	out := make([]uint8, len(l.Pix))
	for y := 0; y < l.H; y++ {
		for x := 0; x < l.W; x++ {
			v := l.Pix[y*l.W+x]
			if v == 0 {
				continue
			}
			cls := uint8(Interior)
		scan:
			for dy := -1; dy <= 1; dy++ {
				for dx := -1; dx <= 1; dx++ {
					xx, yy := x+dx, y+dy
					if xx >= 0 && yy >= 0 && xx < l.W && yy < l.H && l.Pix[yy*l.W+xx] != v {
						cls = Boundary
						break scan
					}
				}
			}
			out[y*l.W+x] = cls
		}
	}
	return out
}
