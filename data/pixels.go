package data

import (
	"image"
	"image/color"

	"github.com/deepscope/deepscope/tensor"
)

// u8 maps a byte to its value in [0, 1].
var u8 = func() (t [256]float32) {
	for i := range t {
		t[i] = float32(i) / 255
	}
	return
}()

// imageToTensor converts a decoded image to [H, W, C] floats in [0, 1]. The
// common concrete types are read straight from their pixel slices; other
// types go through the colour interface.
func imageToTensor(img image.Image) *tensor.Tensor {
	r := img.Bounds()
	w, h := r.Dx(), r.Dy()
	switch m := img.(type) {
	case *image.Gray:
		t := tensor.New(h, w, 1)
		for y := 0; y < h; y++ {
			row := m.Pix[y*m.Stride : y*m.Stride+w]
			out := t.Data[y*w : (y+1)*w]
			for x, v := range row {
				out[x] = u8[v]
			}
		}
		return t
	case *image.Gray16:
		t := tensor.New(h, w, 1)
		for y := 0; y < h; y++ {
			row := m.Pix[y*m.Stride : y*m.Stride+2*w]
			out := t.Data[y*w : (y+1)*w]
			for x := range out {
				out[x] = float32(uint16(row[2*x])<<8|uint16(row[2*x+1])) / 65535
			}
		}
		return t
	case *image.YCbCr:
		t := tensor.New(h, w, 3)
		for y := 0; y < h; y++ {
			out := t.Data[y*w*3 : (y+1)*w*3]
			for x := 0; x < w; x++ {
				yi := m.YOffset(r.Min.X+x, r.Min.Y+y)
				ci := m.COffset(r.Min.X+x, r.Min.Y+y)
				rr, gg, bb := color.YCbCrToRGB(m.Y[yi], m.Cb[ci], m.Cr[ci])
				out[3*x], out[3*x+1], out[3*x+2] = u8[rr], u8[gg], u8[bb]
			}
		}
		return t
	case *image.NRGBA:
		t := tensor.New(h, w, 3)
		for y := 0; y < h; y++ {
			row := m.Pix[y*m.Stride : y*m.Stride+4*w]
			out := t.Data[y*w*3 : (y+1)*w*3]
			for x := 0; x < w; x++ {
				out[3*x], out[3*x+1], out[3*x+2] = u8[row[4*x]], u8[row[4*x+1]], u8[row[4*x+2]]
			}
		}
		return t
	case *image.RGBA:
		t := tensor.New(h, w, 3)
		for y := 0; y < h; y++ {
			row := m.Pix[y*m.Stride : y*m.Stride+4*w]
			out := t.Data[y*w*3 : (y+1)*w*3]
			for x := 0; x < w; x++ {
				p := row[4*x : 4*x+4 : 4*x+4]
				if a := p[3]; a == 255 || a == 0 {
					out[3*x], out[3*x+1], out[3*x+2] = u8[p[0]], u8[p[1]], u8[p[2]]
				} else { // premultiplied: undo the alpha
					s := 1 / float32(a)
					out[3*x], out[3*x+1], out[3*x+2] = float32(p[0])*s, float32(p[1])*s, float32(p[2])*s
				}
			}
		}
		return t
	}
	return genericToTensor(img)
}

// genericToTensor reads any image through its colour model (slow: one
// interface call per pixel), for the rarer types (paletted, CMYK, 16-bit
// colour).
func genericToTensor(img image.Image) *tensor.Tensor {
	r := img.Bounds()
	w, h := r.Dx(), r.Dy()
	if ch, _ := modelInfo(img.ColorModel()); ch == 1 {
		t := tensor.New(h, w, 1)
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				g := color.Gray16Model.Convert(img.At(r.Min.X+x, r.Min.Y+y)).(color.Gray16)
				t.Data[y*w+x] = float32(g.Y) / 65535
			}
		}
		return t
	}
	t := tensor.New(h, w, 3)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			c := color.NRGBA64Model.Convert(img.At(r.Min.X+x, r.Min.Y+y)).(color.NRGBA64)
			o := 3 * (y*w + x)
			t.Data[o], t.Data[o+1], t.Data[o+2] = float32(c.R)/65535, float32(c.G)/65535, float32(c.B)/65535
		}
	}
	return t
}
