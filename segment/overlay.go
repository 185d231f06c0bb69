package segment

import (
	"bytes"
	"image"
	"image/color"
	"image/draw"
	"image/png"

	"github.com/deepscope/deepscope/tensor"
)

// outlinePalette colours objects' outlines: bright hues that stand out on
// dark fluorescence and on pale brightfield images alike.
var outlinePalette = []color.NRGBA{
	{255, 215, 0, 255}, {0, 255, 255, 255}, {255, 0, 255, 255}, {0, 255, 0, 255},
	{255, 128, 0, 255}, {64, 160, 255, 255}, {255, 64, 64, 255}, {160, 255, 64, 255},
}

// Overlay draws the outline of every object of l on img ([H, W, C] in
// [0, 1]), each object in one of a few bright colours. Grey images are
// contrast-stretched (1st to 99.8th percentile) so faint fluorescence shows.
func Overlay(img *tensor.Tensor, l *Labels) *image.NRGBA {
	out := viewable(img)
	drawOutlines(out, l, nil)
	return out
}

// compareGap is the white space between Compare's two pictures.
const compareGap = 4

// Compare shows the true objects' outlines (left, green) beside the
// predicted ones' (right, magenta) on two copies of img.
func Compare(img *tensor.Tensor, truth, pred *Labels) *image.NRGBA {
	base := viewable(img)
	w, h := base.Rect.Dx(), base.Rect.Dy()
	out := image.NewNRGBA(image.Rect(0, 0, 2*w+compareGap, h))
	draw.Draw(out, out.Rect, image.NewUniform(color.NRGBA{255, 255, 255, 255}), image.Point{}, draw.Src)
	left, right := image.NewNRGBA(base.Rect), image.NewNRGBA(base.Rect)
	copy(left.Pix, base.Pix)
	copy(right.Pix, base.Pix)
	drawOutlines(left, truth, &color.NRGBA{0, 230, 0, 255})
	drawOutlines(right, pred, &color.NRGBA{255, 0, 255, 255})
	draw.Draw(out, image.Rect(0, 0, w, h), left, image.Point{}, draw.Src)
	draw.Draw(out, image.Rect(w+compareGap, 0, 2*w+compareGap, h), right, image.Point{}, draw.Src)
	return out
}

// EncodePNG returns img as PNG bytes.
func EncodePNG(img image.Image) ([]byte, error) {
	var buf bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(&buf, img); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// viewable converts an image to 8-bit RGB for display.
func viewable(img *tensor.Tensor) *image.NRGBA {
	h, w, c := img.Dim(0), img.Dim(1), img.Dim(2)
	v := img.Contiguous().Values()
	out := image.NewNRGBA(image.Rect(0, 0, w, h))
	lo, scale := float32(0), float32(1)
	if c == 1 {
		a, b := percentiles(v, lowPercentile, highPercentile)
		if b > a {
			lo, scale = a, 1/(b-a)
		}
	}
	for i := 0; i < h*w; i++ {
		for k := 0; k < 3; k++ {
			x := (v[i*c+min(k, c-1)] - lo) * scale
			out.Pix[4*i+k] = uint8(min(max(x, 0), 1)*255 + 0.5)
		}
		out.Pix[4*i+3] = 255
	}
	return out
}

// drawOutlines colours the pixels of each object that have a 4-neighbour
// outside it, in col or, when col is nil, in a colour chosen by its label.
func drawOutlines(img *image.NRGBA, l *Labels, col *color.NRGBA) {
	for y := 0; y < l.H; y++ {
		for x := 0; x < l.W; x++ {
			v := l.Pix[y*l.W+x]
			if v <= 0 {
				continue
			}
			edge := false
			for _, q := range neighbours4(x, y, l.W, l.H) {
				if q < 0 || l.Pix[q] != v {
					edge = true
					break
				}
			}
			if !edge {
				continue
			}
			c := outlinePalette[int(v)%len(outlinePalette)]
			if col != nil {
				c = *col
			}
			img.SetNRGBA(x, y, c)
		}
	}
}

// compareSmall is Compare on img and labels thinned by the smallest whole
// factor that makes the picture at most maxWidth wide, with the outlines
// drawn after thinning so they stay unbroken.
func compareSmall(img *tensor.Tensor, truth, pred *Labels, maxWidth int) *image.NRGBA {
	k := (2*truth.W + compareGap + maxWidth - 1) / maxWidth
	if k <= 1 {
		return Compare(img, truth, pred)
	}
	h, w, c := img.Dim(0)/k, img.Dim(1)/k, img.Dim(2)
	v := img.Contiguous().Values()
	small := tensor.New(h, w, c)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			copy(small.Data[(y*w+x)*c:(y*w+x+1)*c], v[((y*k)*img.Dim(1)+x*k)*c:])
		}
	}
	thin := func(l *Labels) *Labels {
		out := NewLabels(w, h)
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				out.Pix[y*w+x] = l.Pix[(y*k)*l.W+x*k]
			}
		}
		return out
	}
	return Compare(small, thin(truth), thin(pred))
}
