package data

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// npy encodes an array as numpy would: version 1.0, header padded to 64 bytes.
func npy(descr string, shape []int, data []byte) []byte {
	dims := make([]string, len(shape))
	for i, d := range shape {
		dims[i] = fmt.Sprint(d)
	}
	tuple := strings.Join(dims, ", ")
	if len(shape) == 1 {
		tuple += ","
	}
	h := fmt.Sprintf("{'descr': '%s', 'fortran_order': False, 'shape': (%s), }", descr, tuple)
	for (10+len(h)+1)%64 != 0 {
		h += " "
	}
	h += "\n"
	var b bytes.Buffer
	b.WriteString("\x93NUMPY\x01\x00")
	binary.Write(&b, binary.LittleEndian, uint16(len(h)))
	b.WriteString(h)
	b.Write(data)
	return b.Bytes()
}

// writeNPZ writes a zip of name.npy entries (deflated, as np.savez_compressed does).
func writeNPZ(t testing.TB, path string, arrays map[string][]byte) {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, b := range arrays {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name + ".npy", Method: zip.Deflate})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(b)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// tinyMedMNIST returns arrays for n images per split of h×w×c with labels
// [n, 1] in 0..7 (or [n, k] 0/1 targets when k > 1).
func tinyMedMNIST(n, h, w, c, k int) map[string][]byte {
	m := map[string][]byte{}
	for si, s := range []string{"train", "val", "test"} {
		pix := make([]byte, n*h*w*c)
		for i := range pix {
			pix[i] = byte(i*7 + si*50)
		}
		shape := []int{n, h, w, c}
		if c == 1 {
			shape = shape[:3]
		}
		m[s+"_images"] = npy("|u1", shape, pix)
		lab := make([]byte, n*k)
		for i := range lab {
			if k == 1 {
				lab[i] = byte((i + si) % 8)
			} else {
				lab[i] = byte((i + si) % 2)
			}
		}
		m[s+"_labels"] = npy("|u1", []int{n, k}, lab)
	}
	return m
}

func TestOpenNPZ(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "bloodmnist_64.npz")
	writeNPZ(t, p, tinyMedMNIST(5, 4, 3, 3, 1))
	ds, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	if ds.Len() != 15 || ds.MultiLabel || len(ds.Classes) != 8 || ds.Classes[0] != "basophil" {
		t.Fatalf("len %d multi %v classes %v", ds.Len(), ds.MultiLabel, ds.Classes)
	}
	if it := ds.Items[6]; it.Split != Val || it.Label != 2 || it.Path != "val_images/1" {
		t.Errorf("item 6 = %+v", it)
	}
	img, err := ds.Image(6) // val row 1: bytes (3*4*3 + j)*7 + 50
	if err != nil || !equalInts(img.Shape, []int{4, 3, 3}) {
		t.Fatalf("Image: %v %v", img, err)
	}
	if want := float32(byte((36*7+50)%256)) / 255; img.Data[0] != want {
		t.Errorf("first value %g, want %g", img.Data[0], want)
	}
	val, err := OpenNPZ(p, "val")
	if err != nil || val.Len() != 5 || val.Items[0].Split != Val {
		t.Fatalf("split val: %v, %v", val, err)
	}
}

func TestOpenNPZMultiLabelGrey(t *testing.T) {
	p := filepath.Join(t.TempDir(), "chestmnist.npz")
	writeNPZ(t, p, tinyMedMNIST(4, 5, 5, 1, 14))
	ds, err := OpenNPZ(p, "")
	if err != nil {
		t.Fatal(err)
	}
	if !ds.MultiLabel || len(ds.Classes) != 14 || ds.Classes[13] != "hernia" {
		t.Fatalf("multi %v classes %v", ds.MultiLabel, ds.Classes)
	}
	if it := ds.Items[0]; it.Label != -1 || !reflect.DeepEqual(it.Labels[:3], []float32{0, 1, 0}) {
		t.Errorf("item 0 = %+v", it)
	}
	img, _ := ds.Image(0)
	if !equalInts(img.Shape, []int{5, 5, 1}) {
		t.Errorf("grey image shape %v", img.Shape)
	}
}

func TestOpenNPZErrors(t *testing.T) {
	good := tinyMedMNIST(2, 3, 3, 3, 1)
	with := func(edit func(m map[string][]byte)) map[string][]byte {
		m := map[string][]byte{}
		for k, v := range good {
			m[k] = v
		}
		edit(m)
		return m
	}
	for _, tc := range []struct {
		name   string
		arrays map[string][]byte
		split  string
		want   string
	}{
		{"missing labels", with(func(m map[string][]byte) { delete(m, "val_labels") }), "", `no array "val_labels"`},
		{"missing split", with(func(m map[string][]byte) { delete(m, "test_labels"); delete(m, "test_images") }), "test", `no array "test_images"`},
		{"nothing", map[string][]byte{"x": npy("|u1", []int{1}, []byte{1})}, "", "no <split>_images"},
		{"label count", with(func(m map[string][]byte) { m["train_labels"] = npy("|u1", []int{3, 1}, []byte{0, 1, 2}) }), "", "train_labels.npy: shape [3 1]"},
		{"float images", with(func(m map[string][]byte) { m["train_images"] = npy("<f4", []int{2, 1, 1}, make([]byte, 8)) }), "", "dtype f4, want uint8"},
		{"volume", with(func(m map[string][]byte) { m["train_images"] = npy("|u1", []int{2, 2, 2, 2}, make([]byte, 16)) }), "", "3-D volumes"},
		{"short data", with(func(m map[string][]byte) { m["train_images"] = npy("|u1", []int{2, 3, 3, 3}, make([]byte, 50)) }), "", "entry holds 50 bytes"},
		{"huge shape", with(func(m map[string][]byte) { m["train_images"] = npy("|u1", []int{1 << 30, 1 << 20, 3}, nil) }), "", "too large"},
		{"not npy", with(func(m map[string][]byte) { m["train_images"] = []byte("hello, world") }), "", "not a .npy array"},
		{"fortran", with(func(m map[string][]byte) {
			m["train_images"] = bytes.Replace(m["train_images"], []byte("False"), []byte("True "), 1)
		}), "", "Fortran order"},
		{"bad split name", good, "holdout", `split "holdout"`},
		{"negative label", with(func(m map[string][]byte) { m["val_labels"] = npy("|i1", []int{2, 1}, []byte{0, 0xff}) }), "", "negative label"},
		{"multi-label value", with(func(m map[string][]byte) {
			for _, s := range []string{"train", "val", "test"} {
				m[s+"_labels"] = npy("|u1", []int{2, 2}, []byte{0, 1, 2, 0})
			}
		}), "", "is not 0 or 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "set.npz")
			writeNPZ(t, p, tc.arrays)
			_, err := OpenNPZ(p, tc.split)
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "set.npz") {
				t.Errorf("error %q, want it to name set.npz and contain %q", err, tc.want)
			}
		})
	}
	// Not a zip at all.
	p := writeFile(t, t.TempDir(), "x.npz", []byte("not a zip"))
	if _, err := OpenNPZ(p, ""); err == nil || !strings.Contains(err.Error(), "x.npz") {
		t.Errorf("not a zip: %v", err)
	}
}

// FuzzReadNPY checks that no .npy bytes make the reader panic or allocate
// beyond what the input holds. Run: go test -fuzz FuzzReadNPY ./data
func FuzzReadNPY(f *testing.F) {
	f.Add(npy("|u1", []int{2, 3}, []byte{1, 2, 3, 4, 5, 6}))
	f.Add(npy("<i8", []int{1}, make([]byte, 8)))
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := readNPY(bytes.NewReader(b), uint64(len(b)))
		if err != nil {
			return
		}
		if len(a.data) > len(b) {
			t.Fatalf("%d data bytes from %d input bytes", len(a.data), len(b))
		}
		if a.dtype != "f4" && a.dtype != "f8" {
			a.ints()
		}
	})
}
