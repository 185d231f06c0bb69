package data

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"
)

// testImage returns a w×h RGB image whose pixels depend on (x, y, seed), so
// different seeds give visibly different images.
func testImage(w, h, seed int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.SetNRGBA(x, y, color.NRGBA{
				R: uint8((x*7 + seed*37) % 256),
				G: uint8((y*11 + seed*91) % 256),
				B: uint8(((x ^ y) * 13 * (seed + 1)) % 256),
				A: 255,
			})
		}
	}
	return img
}

// encode returns img encoded in the given format.
func encode(t testing.TB, img image.Image, format string) []byte {
	t.Helper()
	var buf bytes.Buffer
	var err error
	switch format {
	case "png":
		err = png.Encode(&buf, img)
	case "jpeg":
		err = jpeg.Encode(&buf, img, &jpeg.Options{Quality: 95})
	case "bmp":
		err = bmp.Encode(&buf, img)
	case "tiff":
		err = tiff.Encode(&buf, img, nil)
	default:
		t.Fatalf("unknown format %q", format)
	}
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// writeFile writes b to dir/rel, creating directories.
func writeFile(t testing.TB, dir, rel string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// makeFolder writes an ImageFolder with n PNG images per class, each
// distinct, and returns its directory.
func makeFolder(t testing.TB, classes []string, n, size int) string {
	t.Helper()
	dir := t.TempDir()
	seed := 0
	for _, c := range classes {
		for i := 0; i < n; i++ {
			writeFile(t, dir, fmt.Sprintf("%s/img%03d.png", c, i), encode(t, testImage(size, size, seed), "png"))
			seed++
		}
	}
	return dir
}
