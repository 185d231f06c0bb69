package segment

import (
	"image"
	"image/color"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestOpenPairedLayout(t *testing.T) {
	dir := writeDataset(t, t.TempDir(), 3, 32, 1)
	ds, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if ds.Layout != "labels" || len(ds.Samples) != 3 {
		t.Fatalf("layout %q with %d samples, want labels with 3", ds.Layout, len(ds.Samples))
	}
	img, l, err := ds.Samples[0].Load()
	if err != nil {
		t.Fatal(err)
	}
	if img.Dim(0) != 32 || l.W != 32 || l.Count() < 3 {
		t.Errorf("image %v, labels %dx%d with %d objects", img.Shape, l.W, l.H, l.Count())
	}
}

func TestOpenMaskLayout(t *testing.T) {
	// The Data Science Bowl's layout: ID/images/ID.png, ID/masks/*.png.
	dir := t.TempDir()
	for _, id := range []string{"aa", "bb"} {
		writePNG(t, filepath.Join(dir, id, "images", id+".png"), image.NewRGBA(image.Rect(0, 0, 12, 10)))
		for k := 0; k < 3; k++ {
			m := image.NewGray(image.Rect(0, 0, 12, 10))
			m.SetGray(3*k+1, 4, color.Gray{255})
			m.SetGray(3*k+1, 5, color.Gray{255})
			writePNG(t, filepath.Join(dir, id, "masks", string(rune('a'+k))+".png"), m)
		}
	}
	ds, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if ds.Layout != "masks" || len(ds.Samples) != 2 || ds.Samples[1].Name != "bb.png" {
		t.Fatalf("layout %q, samples %+v", ds.Layout, ds.Samples)
	}
	img, l, err := ds.Samples[0].Load()
	if err != nil {
		t.Fatal(err)
	}
	if img.Dim(2) != 3 || l.Count() != 3 || l.At(4, 5) != 2 {
		t.Errorf("image %v, %d objects, label at 4,5 is %d; want RGB, 3 objects, 2", img.Shape, l.Count(), l.At(4, 5))
	}
}

func TestOpenRefusesBadInput(t *testing.T) {
	cases := []struct {
		name  string
		spoil func(dir string)
		want  string // in the error, besides the file's name
		file  string
		open  bool // the error comes from Open (else from Load)
	}{
		{"image without labels", func(dir string) { os.Remove(filepath.Join(dir, "labels", "imgab.png")) }, "no label image", "imgab.png", true},
		{"labels without image", func(dir string) { os.Remove(filepath.Join(dir, "images", "imgab.png")) }, "no image", "imgab.png", true},
		{"no labels folder", func(dir string) { os.RemoveAll(filepath.Join(dir, "labels")) }, "no labels/ folder", "", true},
		{"size mismatch", func(dir string) {
			if err := WriteLabels(filepath.Join(dir, "labels", "imgab.png"), NewLabels(30, 32)); err != nil {
				t.Fatal(err)
			}
		}, "label image is 30x32, its image", "imgab.png", false},
		{"colour labels", func(dir string) {
			m := image.NewRGBA(image.Rect(0, 0, 32, 32))
			m.Set(0, 0, color.RGBA{1, 2, 3, 255})
			writePNG(t, filepath.Join(dir, "labels", "imgab.png"), m)
		}, "colour label image", "imgab.png", false},
		{"overflowing labels", func(dir string) {
			m := image.NewGray(image.Rect(0, 0, 32, 32))
			for k := 0; k < 300; k++ {
				m.Pix[3*k] = uint8((k + 1) % 256)
			}
			writePNG(t, filepath.Join(dir, "labels", "imgab.png"), m)
		}, "overflowed 8 bits", "imgab.png", false},
		{"unreadable image", func(dir string) {
			os.WriteFile(filepath.Join(dir, "images", "imgab.png"), []byte("not an image"), 0o644)
		}, "not a PNG", "imgab.png", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := writeDataset(t, t.TempDir(), 2, 32, 2)
			c.spoil(dir)
			ds, err := Open(dir)
			if !c.open && err == nil {
				_, _, err = ds.Samples[1].Load()
			}
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), c.file) {
				t.Errorf("error %v, want one naming %s and saying %q", err, c.file, c.want)
			}
		})
	}
}
