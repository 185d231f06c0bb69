package data

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"math"
	"strings"
	"testing"

	"golang.org/x/image/tiff"
)

func TestDecodeFormats(t *testing.T) {
	src := testImage(13, 9, 3)
	for _, tc := range []struct {
		format string
		tol    float64 // max abs difference from the source pixels
	}{
		{"png", 0},
		{"bmp", 0},
		{"tiff", 0},
		{"jpeg", 0.25}, // lossy; checked loosely, on the mean below
	} {
		t.Run(tc.format, func(t *testing.T) {
			b := encode(t, src, tc.format)
			got, err := DecodeBytes("x."+tc.format, b)
			if err != nil {
				t.Fatal(err)
			}
			if want := []int{9, 13, 3}; !equalInts(got.Shape, want) {
				t.Fatalf("shape %v, want %v", got.Shape, want)
			}
			var maxd, sumd float64
			for y := 0; y < 9; y++ {
				for x := 0; x < 13; x++ {
					c := src.NRGBAAt(x, y)
					for ch, v := range []uint8{c.R, c.G, c.B} {
						d := math.Abs(float64(got.At(y, x, ch)) - float64(v)/255)
						maxd = max(maxd, d)
						sumd += d
					}
				}
			}
			if tc.format == "jpeg" {
				if mean := sumd / (9 * 13 * 3); mean > 0.08 {
					t.Errorf("mean abs error %.3f, want <= 0.08", mean)
				}
			} else if maxd > 1e-6 {
				t.Errorf("max abs error %g, want exact", maxd)
			}
		})
	}
}

func TestDecodeGreyAnd16Bit(t *testing.T) {
	g := image.NewGray(image.Rect(0, 0, 4, 3))
	g16 := image.NewGray16(image.Rect(0, 0, 4, 3))
	rgb16 := image.NewRGBA64(image.Rect(0, 0, 4, 3))
	for i := range 12 {
		g.Pix[i] = uint8(i * 20)
		g16.SetGray16(i%4, i/4, color.Gray16{Y: uint16(i * 5000)})
		rgb16.SetRGBA64(i%4, i/4, color.RGBA64{R: uint16(i * 5000), G: 1000, B: 65535, A: 65535})
	}
	for _, tc := range []struct {
		name   string
		img    image.Image
		format string
		ch     int
		depth  int
		at     func(i int) float32 // channel 0 of pixel i
	}{
		{"grey png", g, "png", 1, 8, func(i int) float32 { return float32(i*20) / 255 }},
		{"grey tiff", g, "tiff", 1, 8, func(i int) float32 { return float32(i*20) / 255 }},
		{"grey16 png", g16, "png", 1, 16, func(i int) float32 { return float32(i*5000) / 65535 }},
		{"grey16 tiff", g16, "tiff", 1, 16, func(i int) float32 { return float32(i*5000) / 65535 }},
		{"rgb16 tiff", rgb16, "tiff", 3, 16, func(i int) float32 { return float32(i*5000) / 65535 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := encode(t, tc.img, tc.format)
			info, err := DecodeInfo("x", b)
			if err != nil {
				t.Fatal(err)
			}
			if info.Channels != tc.ch || info.BitDepth != tc.depth || info.Width != 4 || info.Height != 3 {
				t.Errorf("info %+v, want %d channels, %d bit, 4x3", info, tc.ch, tc.depth)
			}
			got, err := DecodeBytes("x", b)
			if err != nil {
				t.Fatal(err)
			}
			if got.Shape[2] != tc.ch {
				t.Fatalf("shape %v, want %d channels", got.Shape, tc.ch)
			}
			for i := range 12 {
				if v := got.At(i/4, i%4, 0); math.Abs(float64(v-tc.at(i))) > 1e-6 {
					t.Fatalf("pixel %d = %g, want %g", i, v, tc.at(i))
				}
			}
		})
	}
}

func TestDecodeBadInput(t *testing.T) {
	good := encode(t, testImage(32, 32, 1), "png")
	goodJPEG := encode(t, testImage(32, 32, 1), "jpeg")
	for _, tc := range []struct {
		name string
		b    []byte
		want string
	}{
		{"empty", nil, "empty file"},
		{"text", []byte("<html>not an image</html>"), "not a PNG, JPEG, BMP or TIFF"},
		{"truncated png", good[:len(good)/2], "truncated png"},
		{"truncated png header", good[:20], "png header"},
		{"truncated jpeg", goodJPEG[:len(goodJPEG)/2], "jpeg"},
		{"png bomb", pngClaiming(100000, 100000), "over the limit"},
		{"png 20000 wide", pngClaiming(20000, 1), "over the limit"},
		{"png zero", pngClaiming(0, 5), "bad png header"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeBytes("cells/a.png", tc.b)
			if err == nil {
				t.Fatal("no error")
			}
			var fe *FileError
			if !errors.As(err, &fe) || fe.Path != "cells/a.png" {
				t.Errorf("error %v does not name the file", err)
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "data: cells/a.png: ") {
				t.Errorf("error %q, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestDecodeWrongExtension(t *testing.T) {
	// Content decides: a PNG named .jpg decodes.
	b := encode(t, testImage(5, 5, 0), "png")
	img, err := DecodeBytes("x.jpg", b)
	if err != nil || img.Shape[0] != 5 {
		t.Fatalf("PNG named .jpg: %v %v", img, err)
	}
	info, _ := DecodeInfo("x.jpg", b)
	if info.Format != "png" || extFormat("x.jpg") != "jpeg" {
		t.Errorf("format %q, ext %q", info.Format, extFormat("x.jpg"))
	}
}

// pngClaiming returns a PNG signature and IHDR chunk claiming w×h pixels,
// and nothing else.
func pngClaiming(w, h uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 2 // 8-bit RGB
	binary.Write(&b, binary.BigEndian, uint32(13))
	b.WriteString("IHDR")
	b.Write(ihdr)
	crc := crc32.ChecksumIEEE(append([]byte("IHDR"), ihdr...))
	binary.Write(&b, binary.BigEndian, crc)
	return b.Bytes()
}

func TestDecodeFastPathsMatchGeneric(t *testing.T) {
	src := testImage(10, 7, 5)
	rgba := image.NewRGBA(src.Bounds())
	gray := image.NewGray(src.Bounds())
	var yccs []image.Image
	for _, ratio := range []image.YCbCrSubsampleRatio{image.YCbCrSubsampleRatio444, image.YCbCrSubsampleRatio422,
		image.YCbCrSubsampleRatio420, image.YCbCrSubsampleRatio440, image.YCbCrSubsampleRatio411, image.YCbCrSubsampleRatio410} {
		ycc := image.NewYCbCr(src.Bounds(), ratio)
		for y := 0; y < 7; y++ {
			for x := 0; x < 10; x++ {
				c := src.NRGBAAt(x, y)
				yy, cb, cr := color.RGBToYCbCr(c.R, c.G, c.B)
				ycc.Y[ycc.YOffset(x, y)] = yy
				ycc.Cb[ycc.COffset(x, y)] = cb
				ycc.Cr[ycc.COffset(x, y)] = cr
			}
		}
		// A sub-image has a non-zero origin and a stride wider than its rows.
		yccs = append(yccs, ycc, ycc.SubImage(image.Rect(1, 1, 7, 5)), ycc.SubImage(image.Rect(3, 2, 10, 7)))
	}
	for y := 0; y < 7; y++ {
		for x := 0; x < 10; x++ {
			c := src.NRGBAAt(x, y)
			rgba.Set(x, y, c)
			gray.Set(x, y, c)
		}
	}
	sub := src.SubImage(image.Rect(2, 1, 9, 6))
	for _, img := range append([]image.Image{src, rgba, gray, sub}, yccs...) {
		fast, slow := imageToTensor(img), genericToTensor(img)
		if !equalInts(fast.Shape, slow.Shape) {
			t.Fatalf("%T: shapes %v and %v", img, fast.Shape, slow.Shape)
		}
		for i := range fast.Data {
			tol := 1e-6
			if _, ok := img.(*image.YCbCr); ok {
				tol = 1.01 / 255 // the colour interface converts YCbCr with 16-bit precision
			}
			if math.Abs(float64(fast.Data[i]-slow.Data[i])) > tol {
				t.Fatalf("%T: element %d: fast %g, generic %g", img, i, fast.Data[i], slow.Data[i])
			}
		}
	}
}

func TestDecodeTIFFRoundTrip16(t *testing.T) {
	img := image.NewGray16(image.Rect(0, 0, 2, 1))
	img.SetGray16(1, 0, color.Gray16{Y: 65535})
	var buf bytes.Buffer
	if err := tiff.Encode(&buf, img, &tiff.Options{Compression: tiff.Deflate}); err != nil {
		t.Fatal(err)
	}
	got, err := DecodeBytes("a.tif", buf.Bytes())
	if err != nil || got.Data[0] != 0 || got.Data[1] != 1 {
		t.Fatalf("got %v, %v", got, err)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestYCbCrMatchesStdlib(t *testing.T) {
	// Every (Cb, Cr) pair at a range of lumas, against color.YCbCrToRGB.
	for yv := 0; yv < 256; yv += 5 {
		m := image.NewYCbCr(image.Rect(0, 0, 256, 256), image.YCbCrSubsampleRatio444)
		for i := range m.Y {
			m.Y[i], m.Cb[i], m.Cr[i] = uint8(yv), uint8(i%256), uint8(i/256)
		}
		pix, _, _, _, ok := image8(m, nil)
		if !ok {
			t.Fatal("YCbCr not taken by the 8-bit path")
		}
		for i := range m.Y {
			r, g, b := color.YCbCrToRGB(m.Y[i], m.Cb[i], m.Cr[i])
			if pix[3*i] != r || pix[3*i+1] != g || pix[3*i+2] != b {
				t.Fatalf("Y=%d Cb=%d Cr=%d: %v, want %d %d %d", yv, m.Cb[i], m.Cr[i], pix[3*i:3*i+3], r, g, b)
			}
		}
	}
}

func TestYCbCrSubsampled(t *testing.T) {
	// Subsampled and cropped images, pixel by pixel against the stdlib.
	for _, ratio := range []image.YCbCrSubsampleRatio{image.YCbCrSubsampleRatio444, image.YCbCrSubsampleRatio422,
		image.YCbCrSubsampleRatio420, image.YCbCrSubsampleRatio440, image.YCbCrSubsampleRatio411, image.YCbCrSubsampleRatio410} {
		m := image.NewYCbCr(image.Rect(0, 0, 13, 9), ratio)
		for i := range m.Y {
			m.Y[i] = uint8(i * 37)
		}
		for i := range m.Cb {
			m.Cb[i], m.Cr[i] = uint8(i*53+7), uint8(i*91+100)
		}
		for _, r := range []image.Rectangle{m.Rect, image.Rect(1, 1, 12, 8), image.Rect(3, 2, 13, 9), image.Rect(5, 0, 6, 9)} {
			sub := m.SubImage(r).(*image.YCbCr)
			pix, h, w, _, _ := image8(sub, nil)
			for y := 0; y < h; y++ {
				for x := 0; x < w; x++ {
					c := sub.YCbCrAt(r.Min.X+x, r.Min.Y+y)
					rr, gg, bb := color.YCbCrToRGB(c.Y, c.Cb, c.Cr)
					if o := 3 * (y*w + x); pix[o] != rr || pix[o+1] != gg || pix[o+2] != bb {
						t.Fatalf("%v %v (%d,%d): %v, want %d %d %d", ratio, r, x, y, pix[o:o+3], rr, gg, bb)
					}
				}
			}
		}
	}
}

// FuzzDecodeBytes checks that no input makes decoding panic or return an
// image without an error-free shape. Run: go test -fuzz FuzzDecodeBytes ./data
func FuzzDecodeBytes(f *testing.F) {
	for _, format := range []string{"png", "jpeg", "bmp", "tiff"} {
		f.Add(encode(f, testImage(6, 5, 1), format))
	}
	f.Add(pngClaiming(100000, 100000))
	f.Fuzz(func(t *testing.T, b []byte) {
		img, err := DecodeBytes("f", b)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "data: f: ") {
				t.Errorf("error %q does not name the file", err)
			}
			return
		}
		if img.Dims() != 3 || img.Len() == 0 || (img.Shape[2] != 1 && img.Shape[2] != 3) {
			t.Errorf("shape %v", img.Shape)
		}
	})
}
