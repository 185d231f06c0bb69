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
	if pix, h, w, c, ok := image8(img, nil); ok {
		t := tensor.New(h, w, c)
		for i, v := range pix {
			t.Data[i] = u8[v]
		}
		return t
	}
	if m, ok := img.(*image.Gray16); ok {
		r := m.Rect
		h, w := r.Dy(), r.Dx()
		t := tensor.New(h, w, 1)
		for y := 0; y < h; y++ {
			row := m.Pix[y*m.Stride : y*m.Stride+2*w]
			out := t.Data[y*w : (y+1)*w]
			for x := range out {
				out[x] = float32(uint16(row[2*x])<<8|uint16(row[2*x+1])) / 65535
			}
		}
		return t
	}
	return genericToTensor(img)
}

// image8 converts an 8-bit image (grey, YCbCr, NRGBA, opaque RGBA) to
// interleaved bytes [H, W, C], C = 1 or 3, reusing dst's memory. ok is
// false for any other image, which must go through floats.
func image8(img image.Image, dst []byte) (pix []byte, h, w, c int, ok bool) {
	r := img.Bounds()
	w, h = r.Dx(), r.Dy()
	grow := func(n int) []byte {
		if cap(dst) < n {
			return make([]byte, n)
		}
		return dst[:n]
	}
	switch m := img.(type) {
	case *image.Gray:
		pix = grow(h * w)
		for y := 0; y < h; y++ {
			copy(pix[y*w:(y+1)*w], m.Pix[y*m.Stride:])
		}
		return pix, h, w, 1, true
	case *image.YCbCr:
		pix = grow(h * w * 3)
		shift := chromaShift(m.SubsampleRatio)
		for y := 0; y < h; y++ {
			yi, ci := m.YOffset(r.Min.X, r.Min.Y+y), m.COffset(r.Min.X, r.Min.Y+y)
			ycbcrRow(pix[y*w*3:(y+1)*w*3], m.Y[yi:yi+w], m.Cb[ci:], m.Cr[ci:], shift, r.Min.X)
		}
		return pix, h, w, 3, true
	case *image.NRGBA:
		pix = grow(h * w * 3)
		for y := 0; y < h; y++ {
			row := m.Pix[y*m.Stride : y*m.Stride+4*w]
			out := pix[y*w*3 : (y+1)*w*3]
			for x := 0; x < w; x++ {
				out[3*x], out[3*x+1], out[3*x+2] = row[4*x], row[4*x+1], row[4*x+2]
			}
		}
		return pix, h, w, 3, true
	case *image.RGBA:
		if !m.Opaque() {
			return nil, 0, 0, 0, false // premultiplied alpha: undo it in floats
		}
		pix = grow(h * w * 3)
		for y := 0; y < h; y++ {
			row := m.Pix[y*m.Stride : y*m.Stride+4*w]
			out := pix[y*w*3 : (y+1)*w*3]
			for x := 0; x < w; x++ {
				out[3*x], out[3*x+1], out[3*x+2] = row[4*x], row[4*x+1], row[4*x+2]
			}
		}
		return pix, h, w, 3, true
	}
	return nil, 0, 0, 0, false
}

// chromaShift returns log2 of the horizontal chroma subsampling.
func chromaShift(ratio image.YCbCrSubsampleRatio) uint {
	switch ratio {
	case image.YCbCrSubsampleRatio422, image.YCbCrSubsampleRatio420:
		return 1
	case image.YCbCrSubsampleRatio411, image.YCbCrSubsampleRatio410:
		return 2
	}
	return 0 // 4:4:4 and 4:4:0 keep every column
}

// ycbcrRow converts one row of luma ys, with chroma rows cbs and crs that
// start at image column x0 and are subsampled by 1<<shift, to RGB bytes.
// The arithmetic is color.YCbCrToRGB's (JFIF full range), written out in
// the loop because the function call would not be inlined.
func ycbcrRow(out, ys, cbs, crs []byte, shift uint, x0 int) {
	c0 := x0 >> shift
	for x, yv := range ys {
		ci := (x0+x)>>shift - c0
		yy := int32(yv) * 0x10101
		cb1 := int32(cbs[ci]) - 128
		cr1 := int32(crs[ci]) - 128
		o := out[3*x : 3*x+3 : 3*x+3]
		o[0] = clip16(yy + 91881*cr1)
		o[1] = clip16(yy - 22554*cb1 - 46802*cr1)
		o[2] = clip16(yy + 116130*cb1)
	}
}

// clip16 returns v>>16 clamped to [0, 255].
func clip16(v int32) uint8 {
	if uint32(v)&0xff000000 == 0 {
		return uint8(v >> 16)
	}
	return uint8(^(v >> 31))
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
