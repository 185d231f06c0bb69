package data

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestOpenImageFolder(t *testing.T) {
	dir := makeFolder(t, []string{"lymphocyte", "basophil"}, 3, 8)
	writeFile(t, dir, "basophil/notes.txt", []byte("x"))
	writeFile(t, dir, "basophil/.DS_Store", []byte("x"))
	writeFile(t, dir, "basophil/sub/deep.JPG", encode(t, testImage(8, 8, 99), "jpeg"))
	writeFile(t, dir, "README.md", []byte("x"))
	if err := os.Mkdir(filepath.Join(dir, "empty"), 0o755); err != nil {
		t.Fatal(err)
	}
	ds, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"basophil", "empty", "lymphocyte"}; !reflect.DeepEqual(ds.Classes, want) {
		t.Errorf("classes %v, want %v", ds.Classes, want)
	}
	if ds.Len() != 7 || ds.Source != "imagefolder" {
		t.Fatalf("%d items from %s, want 7 from imagefolder", ds.Len(), ds.Source)
	}
	if got := ds.ClassCounts(); !reflect.DeepEqual(got, []int{4, 0, 3}) {
		t.Errorf("class counts %v", got)
	}
	if !reflect.DeepEqual(ds.Ignored, []string{"README.md", "basophil/notes.txt"}) {
		t.Errorf("ignored %v", ds.Ignored)
	}
	found := false
	for i, it := range ds.Items {
		if it.Path == "basophil/sub/deep.JPG" {
			found = it.Label == 0
			if img, err := ds.Image(i); err != nil || img.Shape[0] != 8 {
				t.Errorf("Image: %v", err)
			}
		}
	}
	if !found {
		t.Error("nested upper-case .JPG not indexed under basophil")
	}
	if _, err := OpenImageFolder(t.TempDir()); err == nil || !strings.Contains(err.Error(), "no class sub-directories") {
		t.Errorf("empty dir: %v", err)
	}
}

func TestOpenManifest(t *testing.T) {
	dir := t.TempDir()
	csv := "path,label,split,patient,site\n" +
		"a/1.png,neutrophil,train,p1,Barcelona\n" +
		"a/2.png,lymphocyte,val,p2,Barcelona\n" +
		"./b/3.png,neutrophil,test,p3,\"Madrid, ES\"\n"
	p := writeFile(t, dir, "split.csv", []byte(csv))
	ds, err := Open(dir) // a directory holding split.csv is read as a manifest
	if err != nil {
		t.Fatal(err)
	}
	if ds.Root != dir || !reflect.DeepEqual(ds.Classes, []string{"lymphocyte", "neutrophil"}) {
		t.Fatalf("root %s classes %v", ds.Root, ds.Classes)
	}
	want := Item{Path: "b/3.png", Label: 1, Split: Test, Meta: map[string]string{"patient": "p3", "site": "Madrid, ES"}}
	if !reflect.DeepEqual(ds.Items[2], want) {
		t.Errorf("item 2 = %+v, want %+v", ds.Items[2], want)
	}
	if got := ds.Subset(Val); got.Len() != 1 || got.Items[0].Path != "a/2.png" {
		t.Errorf("Subset(val) = %+v", got.Items)
	}
	if !reflect.DeepEqual(ds.Splits(), []string{Train, Val, Test}) {
		t.Errorf("splits %v", ds.Splits())
	}
	// classes.txt fixes the order and the set.
	writeFile(t, dir, ClassesFile, []byte("neutrophil\nlymphocyte\nbasophil\n"))
	ds, err = OpenManifest(p)
	if err != nil {
		t.Fatal(err)
	}
	if ds.Items[0].Label != 0 || len(ds.Classes) != 3 {
		t.Errorf("with classes.txt: label %d, classes %v", ds.Items[0].Label, ds.Classes)
	}
}

func TestOpenManifestMultiLabel(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, "m.csv", []byte("path,labels\nx.png,mass;nodule\ny.png,\nz.png,nodule\n"))
	ds, err := OpenManifest(p)
	if err != nil {
		t.Fatal(err)
	}
	if !ds.MultiLabel || !reflect.DeepEqual(ds.Classes, []string{"mass", "nodule"}) {
		t.Fatalf("multi %v classes %v", ds.MultiLabel, ds.Classes)
	}
	if !reflect.DeepEqual(ds.Items[0].Labels, []float32{1, 1}) || !reflect.DeepEqual(ds.Items[1].Labels, []float32{0, 0}) || ds.Items[2].Label != -1 {
		t.Errorf("items %+v", ds.Items)
	}
}

func TestOpenManifestErrors(t *testing.T) {
	for _, tc := range []struct {
		name, csv, classes, want string
	}{
		{"no path column", "file,label\na.png,x\n", "", `no "path" column`},
		{"no label column", "path,split\na.png,train\n", "", `"label" and "labels"`},
		{"escape", "path,label\n../secret.png,x\n", "", `line 2: path "../secret.png" is outside the dataset root`},
		{"escape deep", "path,label\na/../../b.png,x\n", "", "line 2: path"},
		{"absolute", "path,label\n/etc/passwd,x\n", "", "outside the dataset root"},
		{"unknown label", "path,label\na.png,x\nb.png,y\n", "x\n", `line 3: unknown label "y"`},
		{"empty label", "path,label\na.png,\n", "", "line 2: empty label"},
		{"bad split", "path,label,split\na.png,x,holdout\n", "", `line 2: split "holdout"`},
		{"duplicate path", "path,label\na.png,x\nb.png,x\n./a.png,x\n", "", `line 4: path "a.png" already listed on line 2`},
		{"ragged row", "path,label\na.png,x,extra\n", "", "line 2: wrong number of fields"},
		{"header only", "path,label\n", "", "no rows"},
		{"empty", "", "", "empty manifest"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			p := writeFile(t, dir, "m.csv", []byte(tc.csv))
			if tc.classes != "" {
				writeFile(t, dir, ClassesFile, []byte(tc.classes))
			}
			_, err := OpenManifest(p)
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "m.csv") {
				t.Errorf("error %q, want it to name m.csv and contain %q", err, tc.want)
			}
		})
	}
}

func TestWriteManifestRoundTrip(t *testing.T) {
	dir := makeFolder(t, []string{"b", "a", "c"}, 2, 4)
	ds, err := OpenImageFolder(dir)
	if err != nil {
		t.Fatal(err)
	}
	for i := range ds.Items {
		ds.Items[i].Split = []string{Train, Val, Test}[i%3]
		ds.Items[i].Meta = map[string]string{"patient": "p" + ds.Items[i].Path[:1]}
	}
	// Empty a class: the manifest alone would lose it, so classes.txt is written.
	ds.Items = ds.Items[:4]
	out := filepath.Join(dir, "split.csv")
	if err := WriteManifest(out, ds); err != nil {
		t.Fatal(err)
	}
	back, err := OpenManifest(out)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back.Classes, ds.Classes) || !reflect.DeepEqual(back.Items, ds.Items) {
		t.Errorf("round trip:\n got %v %+v\nwant %v %+v", back.Classes, back.Items, ds.Classes, ds.Items)
	}
	// A manifest outside the root cannot reach the images.
	if err := WriteManifest(filepath.Join(dir, "a", "m.csv"), ds); err == nil {
		t.Error("manifest below the root accepted")
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp") {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
}

func TestOpenRejectsOtherFiles(t *testing.T) {
	p := writeFile(t, t.TempDir(), "x.png", []byte("x"))
	if _, err := Open(p); err == nil {
		t.Error("Open of a .png accepted")
	}
	if _, err := Open(filepath.Join(t.TempDir(), "missing")); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("missing path: %v", err)
	}
}
