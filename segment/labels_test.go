package segment

import (
	"image"
	"image/color"
	"image/jpeg"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLabelsRoundTrip(t *testing.T) {
	l := NewLabels(5, 3)
	for i := range l.Pix {
		l.Pix[i] = int32(i * 4000) // up to 56000: needs 16 bits
	}
	path := filepath.Join(t.TempDir(), "l.png")
	if err := WriteLabels(path, l); err != nil {
		t.Fatal(err)
	}
	got, err := ReadLabels(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := range l.Pix {
		if got.Pix[i] != l.Pix[i] {
			t.Fatalf("pixel %d: read %d, wrote %d", i, got.Pix[i], l.Pix[i])
		}
	}
	l.Pix[0] = MaxLabel16 + 1
	if err := WriteLabels(path, l); err == nil || !strings.Contains(err.Error(), "16-bit") {
		t.Errorf("writing label 65536: error %v, want one about 16 bits", err)
	}
}

func TestRelabelAndRemoveSmall(t *testing.T) {
	l := &Labels{W: 6, H: 1, Pix: []int32{7, 7, 0, 3, 9, 9}}
	if n := l.RemoveSmall(2); n != 2 {
		t.Fatalf("%d objects left, want 2", n)
	}
	want := []int32{1, 1, 0, 0, 2, 2}
	for i := range want {
		if l.Pix[i] != want[i] {
			t.Fatalf("labels %v, want %v", l.Pix, want)
		}
	}
}

func TestReadMasks(t *testing.T) {
	dir := t.TempDir()
	mask := func(name string, x0, x1 int) string {
		m := image.NewGray(image.Rect(0, 0, 8, 4))
		for y := 0; y < 4; y++ {
			for x := x0; x < x1; x++ {
				m.SetGray(x, y, color.Gray{255})
			}
		}
		p := filepath.Join(dir, name)
		writePNG(t, p, m)
		return p
	}
	a, b, empty := mask("a.png", 0, 5), mask("b.png", 4, 8), mask("c.png", 0, 0)
	l, err := ReadMasks([]string{a, empty, b}, 8, 4)
	if err != nil {
		t.Fatal(err)
	}
	// The later mask wins where they overlap (column 4); the empty one is
	// skipped, so b is object 2.
	if got := [3]int32{l.At(3, 0), l.At(4, 0), l.At(7, 3)}; got != [3]int32{1, 2, 2} {
		t.Errorf("labels at x=3, 4, 7: %v, want [1 2 2]", got)
	}
	if _, err := ReadMasks([]string{a}, 9, 4); err == nil || !strings.Contains(err.Error(), "a.png") {
		t.Errorf("mask of the wrong size: error %v, want one naming a.png", err)
	}
}

// badLabelFile writes one kind of bad label image and returns its path.
func badLabelFile(t *testing.T, dir, kind string) string {
	p := filepath.Join(dir, kind+".png")
	switch kind {
	case "colour":
		m := image.NewRGBA(image.Rect(0, 0, 4, 4))
		for i := range m.Pix {
			m.Pix[i] = 255
		}
		m.Set(1, 1, color.RGBA{200, 10, 10, 255})
		writePNG(t, p, m)
	case "jpeg":
		p = filepath.Join(dir, "labels.jpg")
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := jpeg.Encode(f, image.NewGray(image.Rect(0, 0, 4, 4)), nil); err != nil {
			t.Fatal(err)
		}
	case "overflow":
		// 300 objects saved as 8 bits: labels wrapped, so label 1..44
		// each mark two separate objects, and 255 is used.
		m := image.NewGray(image.Rect(0, 0, 600, 2))
		for k := 0; k < 300; k++ {
			m.Pix[2*k] = uint8((k + 1) % 256)
		}
		writePNG(t, p, m)
	case "binary":
		m := image.NewGray(image.Rect(0, 0, 10, 1))
		m.Pix[1], m.Pix[5] = 255, 255
		writePNG(t, p, m)
	case "truncated":
		if err := os.WriteFile(p, []byte("\x89PNG\r\n\x1a\n\x00\x00"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

func TestReadLabelsRefusesBadInput(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct{ kind, want string }{
		{"colour", "colour label image"},
		{"jpeg", "JPEG"},
		{"overflow", "overflowed 8 bits"},
		{"binary", "binary mask"},
		{"truncated", "truncated"},
	} {
		p := badLabelFile(t, dir, c.kind)
		_, err := ReadLabels(p)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), filepath.Base(p)) {
			t.Errorf("%s: error %v, want one naming %s and saying %q", c.kind, err, filepath.Base(p), c.want)
		}
	}
	// 8-bit labels that reach 255 without reusing a value are fine.
	m := image.NewGray(image.Rect(0, 0, 510, 1))
	for k := 0; k < 255; k++ {
		m.Pix[2*k] = uint8(k + 1)
	}
	p := filepath.Join(dir, "full8.png")
	writePNG(t, p, m)
	if l, err := ReadLabels(p); err != nil || l.Count() != 255 {
		t.Errorf("255 objects in 8 bits: %v", err)
	}
}
