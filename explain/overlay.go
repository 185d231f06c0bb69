package explain

import (
	"fmt"
	"image"
	"image/color"
	"math"

	"github.com/deepscope/deepscope/tensor"
)

// Overlay draws heat [h, w] over img [H, W, C] (values in [0, 1]; C is 1 or
// 3) and returns the picture, ready for png.Encode. The map is resized to
// the image, its negative values are dropped and the rest is divided by its
// maximum; each pixel is then blended with the turbo colour of its value,
// more opaquely where the value is high, so the image shows through where
// the map is cold.
func Overlay(img, heat *tensor.Tensor) image.Image {
	if img.Dims() != 3 || heat.Dims() != 2 {
		panic(fmt.Sprintf("explain: Overlay of image %v and map %v; want [H, W, C] and [h, w]", img.Shape, heat.Shape))
	}
	H, W, C := img.Dim(0), img.Dim(1), img.Dim(2)
	hm := Upsample(heat, H, W)
	for i, v := range hm.Data {
		if math.IsNaN(float64(v)) {
			hm.Data[i] = 0
		}
	}
	normaliseMax(hm.Data)
	px := img.Contiguous().Values()
	out := image.NewRGBA(image.Rect(0, 0, W, H))
	for y := 0; y < H; y++ {
		for x := 0; x < W; x++ {
			h := float64(hm.Data[y*W+x])
			col := turbo(h)
			a := 0.7 * math.Sqrt(h)
			var rgb [3]uint8
			for ch := range rgb {
				v := float64(px[(y*W+x)*C+min(ch, C-1)])
				v = math.Min(math.Max(v, 0), 1)
				rgb[ch] = uint8(math.Round(255 * ((1-a)*v + a*col[ch])))
			}
			out.SetRGBA(x, y, color.RGBA{rgb[0], rgb[1], rgb[2], 255})
		}
	}
	return out
}

// turbo returns the colour of v in [0, 1] on Google's Turbo colour map
// (dark blue, cyan, green, yellow, red), by its published polynomial fit.
func turbo(v float64) [3]float64 {
	v = math.Min(math.Max(v, 0), 1)
	poly := func(c [6]float64) float64 {
		s := 0.0
		for i := len(c) - 1; i >= 0; i-- {
			s = s*v + c[i]
		}
		return math.Min(math.Max(s, 0), 1)
	}
	return [3]float64{
		poly([6]float64{0.13572138, 4.61539260, -42.66032258, 132.13108234, -152.94239396, 59.28637943}),
		poly([6]float64{0.09140261, 2.19418839, 4.84296658, -14.18503333, 4.27729857, 2.82956604}),
		poly([6]float64{0.10667330, 12.64194608, -60.58204836, 110.36276771, -89.90310912, 27.34824973}),
	}
}
