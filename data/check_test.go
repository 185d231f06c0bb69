package data

import (
	"bytes"
	"encoding/json"
	"image"
	"image/color"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// blobs draws a smooth image: a few soft discs on a background, placed by seed.
func blobs(size, seed int) *image.NRGBA {
	rng := rand.New(rand.NewPCG(uint64(seed), 1))
	type disc struct{ x, y, r float64 }
	var ds []disc
	for range 4 {
		ds = append(ds, disc{rng.Float64() * float64(size), rng.Float64() * float64(size), float64(size) * (0.1 + 0.2*rng.Float64())})
	}
	img := image.NewNRGBA(image.Rect(0, 0, size, size))
	for y := 0; y < size; y++ {
		for x := 0; x < size; x++ {
			v := 230.0
			for _, d := range ds {
				dx, dy := float64(x)-d.x, float64(y)-d.y
				if dx*dx+dy*dy < d.r*d.r {
					v -= 90
				}
			}
			v = max(v, 0)
			img.SetNRGBA(x, y, color.NRGBA{uint8(v), uint8(v * 0.8), uint8(min(v+20, 255)), 255})
		}
	}
	return img
}

func brighter(src *image.NRGBA, d int) *image.NRGBA {
	out := image.NewNRGBA(src.Rect)
	copy(out.Pix, src.Pix)
	for i := range out.Pix {
		if i%4 != 3 {
			out.Pix[i] = uint8(min(int(out.Pix[i])+d, 255))
		}
	}
	return out
}

func TestPHash(t *testing.T) {
	a := blobs(64, 1)
	ha := PHash(imageToTensor(a))
	jpg, _ := DecodeBytes("a.jpg", encode(t, a, "jpeg"))
	for _, tc := range []struct {
		name     string
		h        uint64
		min, max int
	}{
		{"same", PHash(imageToTensor(a)), 0, 0},
		{"jpeg", PHash(jpg), 0, 4},
		{"brighter", PHash(imageToTensor(brighter(a, 12))), 0, 4},
		{"upscaled", PHash((Preprocess{Size: 100}).Apply(imageToTensor(a))), 0, 4},
		{"other image", PHash(imageToTensor(blobs(64, 2))), 12, 64},
		{"another", PHash(imageToTensor(blobs(64, 3))), 12, 64},
	} {
		if d := Hamming(ha, tc.h); d < tc.min || d > tc.max {
			t.Errorf("%s: distance %d, want %d..%d", tc.name, d, tc.min, tc.max)
		}
	}
}

func TestNearGroupsMatchesBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var hashes []uint64
	for range 60 { // clusters of hashes a few bits apart, plus strangers
		base := rng.Uint64()
		for range 1 + rng.IntN(3) {
			h := base
			for range rng.IntN(6) {
				h ^= 1 << rng.IntN(64)
			}
			hashes = append(hashes, h)
		}
	}
	hashes = append(hashes, hashes[5], hashes[5]) // identical ones
	for _, d := range []int{0, 2, 4, 7} {
		uf := newUnionFind(len(hashes))
		for i := range hashes {
			for j := range i {
				if Hamming(hashes[i], hashes[j]) <= d {
					uf.union(i, j)
				}
			}
		}
		if got, want := nearGroups(hashes, d), uf.groups(); !reflect.DeepEqual(got, want) {
			t.Errorf("distance %d: got %v, want %v", d, got, want)
		}
	}
}

func TestCheckFindsProblems(t *testing.T) {
	dir := t.TempDir()
	a, b, c := blobs(48, 1), blobs(48, 2), blobs(48, 3)
	writeFile(t, dir, "x/a.png", encode(t, a, "png"))
	writeFile(t, dir, "x/a_copy.png", encode(t, a, "png"))                 // exact duplicate, in test
	writeFile(t, dir, "y/b.png", encode(t, b, "png"))                      //
	writeFile(t, dir, "y/b_bright.png", encode(t, brighter(b, 10), "png")) // near duplicate, other class
	writeFile(t, dir, "y/c.jpg", encode(t, c, "png"))                      // a PNG named .jpg
	good := encode(t, blobs(48, 4), "png")
	writeFile(t, dir, "y/cut.png", good[:len(good)/2]) // truncated
	writeFile(t, dir, "y/empty.png", nil)
	writeFile(t, dir, ClassesFile, []byte("x\ny\nz\n"))
	manifest := "path,label,split\n" +
		"x/a.png,x,train\nx/a_copy.png,x,test\ny/b.png,y,train\ny/b_bright.png,x,train\n" +
		"y/c.jpg,y,val\ny/cut.png,y,train\ny/empty.png,y,train\n"
	writeFile(t, dir, "split.csv", []byte(manifest))
	ds, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Check(ds, CheckConfig{Workers: 3})
	if err != nil {
		t.Fatal(err)
	}
	if r.Clean() {
		t.Fatal("report clean")
	}
	var unreadable []string
	for _, p := range r.Unreadable {
		unreadable = append(unreadable, filepath.Base(p.Path))
		if !strings.Contains(p.Error, p.Path) {
			t.Errorf("error %q does not name %s", p.Error, p.Path)
		}
	}
	slices.Sort(unreadable)
	if !reflect.DeepEqual(unreadable, []string{"cut.png", "empty.png"}) {
		t.Errorf("unreadable %v", unreadable)
	}
	if len(r.FormatMismatch) != 1 || !strings.HasSuffix(r.FormatMismatch[0].Path, "c.jpg") {
		t.Errorf("format mismatch %+v", r.FormatMismatch)
	}
	if len(r.ExactDuplicates) != 1 || !r.ExactDuplicates[0].CrossSplit || r.ExactDuplicates[0].MixedLabels {
		t.Errorf("exact duplicates %+v", r.ExactDuplicates)
	}
	if len(r.NearDuplicates) != 1 || r.NearDuplicates[0].CrossSplit || !r.NearDuplicates[0].MixedLabels {
		t.Errorf("near duplicates %+v", r.NearDuplicates)
	}
	if !reflect.DeepEqual(r.EmptyClasses, []string{"z"}) || r.Classes[0].Count != 3 || r.Classes[1].BySplit[Train] != 3 {
		t.Errorf("classes %+v, empty %v", r.Classes, r.EmptyClasses)
	}
	if r.Sizes["48x48"] != 5 || r.Formats["png"] != 5 || r.Channels[3] != 5 || r.BitDepths[8] != 5 {
		t.Errorf("sizes %v formats %v channels %v depths %v", r.Sizes, r.Formats, r.Channels, r.BitDepths)
	}
	if r.ImbalanceRatio != 4.0/3 {
		t.Errorf("imbalance %g, want 4/3", r.ImbalanceRatio)
	}
	var text bytes.Buffer
	r.WriteText(&text, 10)
	for _, want := range []string{"ACROSS SPLITS", "DIFFERENT LABELS", "truncated png", "empty file", "extension says jpeg, content is png", "PROBLEMS:"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, text.String())
		}
	}
	js, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(js, &back); err != nil || !reflect.DeepEqual(&back, r) {
		t.Errorf("JSON round trip differs: %v", err)
	}
}

func TestCheckClean(t *testing.T) {
	dir := t.TempDir()
	for i := range 6 {
		writeFile(t, dir, []string{"a", "b"}[i%2]+"/"+string(rune('p'+i))+".png", encode(t, blobs(32, 10+i), "png"))
	}
	ds, _ := Open(dir)
	r, err := Check(ds, CheckConfig{Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	if !r.Clean() || r.ImbalanceRatio != 1 {
		var text bytes.Buffer
		r.WriteText(&text, 0)
		t.Errorf("not clean:\n%s", text.String())
	}
	if _, err := Check(ds, CheckConfig{NearDistance: 40}); err == nil {
		t.Error("distance 40 accepted")
	}
	if r, _ := Check(ds, CheckConfig{NearDistance: -1}); r.NearDistance != -1 || r.NearDuplicates != nil {
		t.Errorf("near search not off: %+v", r.NearDuplicates)
	}
}

func TestCheckNPZ(t *testing.T) {
	p := filepath.Join(t.TempDir(), "bloodmnist.npz")
	arrays := tinyMedMNIST(3, 8, 8, 3, 1)
	// Make val row 0 equal to train row 0: leakage inside the archive.
	img := arrays["val_images"]
	copy(img[len(img)-3*8*8*3:], arrays["train_images"][len(arrays["train_images"])-3*8*8*3:][:8*8*3])
	writeNPZ(t, p, arrays)
	ds, err := OpenNPZ(p, "")
	if err != nil {
		t.Fatal(err)
	}
	r, err := Check(ds, CheckConfig{NearDistance: -1})
	if err != nil {
		t.Fatal(err)
	}
	if r.Formats["npz"] != 9 || len(r.ExactDuplicates) != 1 || !r.ExactDuplicates[0].CrossSplit {
		t.Errorf("formats %v, exact duplicates %+v", r.Formats, r.ExactDuplicates)
	}
}
