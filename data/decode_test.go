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
	ycc := image.NewYCbCr(src.Bounds(), image.YCbCrSubsampleRatio420)
	for y := 0; y < 7; y++ {
		for x := 0; x < 10; x++ {
			c := src.NRGBAAt(x, y)
			rgba.Set(x, y, c)
			gray.Set(x, y, c)
			yy, cb, cr := color.RGBToYCbCr(c.R, c.G, c.B)
			ycc.Y[ycc.YOffset(x, y)] = yy
			ycc.Cb[ycc.COffset(x, y)] = cb
			ycc.Cr[ycc.COffset(x, y)] = cr
		}
	}
	// A sub-image has a non-zero origin and a stride wider than its rows.
	sub := src.SubImage(image.Rect(2, 1, 9, 6))
	for _, img := range []image.Image{src, rgba, gray, ycc, sub, ycc.SubImage(image.Rect(1, 1, 7, 5))} {
		fast, slow := imageToTensor(img), genericToTensor(img)
		if !equalInts(fast.Shape, slow.Shape) {
			t.Fatalf("%T: shapes %v and %v", img, fast.Shape, slow.Shape)
		}
		for i := range fast.Data {
			if math.Abs(float64(fast.Data[i]-slow.Data[i])) > 1.5/255 {
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
