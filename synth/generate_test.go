package synth

import (
	"bytes"
	"encoding/csv"
	"image/png"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deepscope/deepscope/tensor"
)

func TestCellShapeAndRange(t *testing.T) {
	for _, c := range AllClasses() {
		for _, size := range []int{16, 28, 64, 97} {
			img := Cell(rand.New(rand.NewPCG(1, 2)), c, size, DefaultStyle())
			if img.Dims() != 3 || img.Shape[0] != size || img.Shape[1] != size || img.Shape[2] != 3 {
				t.Fatalf("%v at %d: shape %v", c, size, img.Shape)
			}
			for _, v := range img.Values() {
				if !(v >= 0 && v <= 1) {
					t.Fatalf("%v at %d: value %g outside [0, 1]", c, size, v)
				}
			}
		}
	}
}

func TestRenderDeterministic(t *testing.T) {
	cfg := Config{N: 16, Size: 32, Seed: 5, Difficulty: 0.5}
	a, err := Plan(cfg)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Plan(cfg)
	other, _ := Plan(Config{N: 16, Size: 32, Seed: 6, Difficulty: 0.5})
	differ := 0
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("Plan differs between calls at %d: %+v vs %+v", i, a[i], b[i])
		}
		x, y := Render(cfg, a[i]), Render(cfg, b[i])
		if !equal(x, y) {
			t.Fatalf("Render of %s differs between calls", a[i].Path)
		}
		if !equal(x, Render(cfg, other[i])) {
			differ++
		}
	}
	if differ != len(a) {
		t.Errorf("only %d of %d images change with the seed", differ, len(a))
	}
	// A zero Difficulty means the default, 0.5.
	zero := Config{N: 16, Size: 32, Seed: 5}
	if !equal(Render(zero, a[3]), Render(cfg, a[3])) {
		t.Error("Difficulty 0 does not render as the default 0.5")
	}
}

func equal(a, b *tensor.Tensor) bool {
	av, bv := a.Values(), b.Values()
	for i := range av {
		if av[i] != bv[i] {
			return false
		}
	}
	return len(av) == len(bv)
}

func TestPlanSplitsAndSites(t *testing.T) {
	items, err := Plan(Config{N: 1000, Seed: 1, Sites: 3, Classes: []Class{Neutrophil, Lymphocyte, Eosinophil, Monocyte}})
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 1000 {
		t.Fatalf("%d items, want 1000", len(items))
	}
	split := map[string]int{}
	perClass := map[Class]map[string]int{}
	site := map[int]int{}
	paths := map[string]bool{}
	for _, it := range items {
		split[it.Split]++
		if perClass[it.Class] == nil {
			perClass[it.Class] = map[string]int{}
		}
		perClass[it.Class][it.Split]++
		site[it.Site]++
		if paths[it.Path] {
			t.Fatalf("path %s planned twice", it.Path)
		}
		paths[it.Path] = true
		if want := []Class{Neutrophil, Lymphocyte, Eosinophil, Monocyte}[it.Label]; want != it.Class {
			t.Fatalf("label %d for class %v", it.Label, it.Class)
		}
	}
	for c, s := range perClass { // stratified: exact proportions per class
		if s["train"] != 175 || s["val"] != 25 || s["test"] != 50 {
			t.Errorf("class %v split %v, want 175/25/50", c, s)
		}
	}
	// Site weights 1, 1/2, 1/3: about 545, 273, 182 of 1000.
	for i, want := range []int{545, 273, 182} {
		if d := site[i] - want; d < -50 || d > 50 {
			t.Errorf("site %d has %d images, want about %d", i, site[i], want)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		cfg  Config
		want string
	}{
		{Config{Size: 8}, "size 8"},
		{Config{Sites: -1}, "sites -1"},
		{Config{Difficulty: 1.5}, "difficulty 1.5"},
		{Config{N: 3}, "n 3"},
		{Config{Classes: []Class{Neutrophil, Neutrophil}}, "listed twice"},
		{Config{Classes: []Class{42}}, "unknown class 42"},
	}
	for _, tc := range tests {
		_, err := Plan(tc.cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "synth: ") {
			t.Errorf("%+v: error %v, want one containing %q", tc.cfg, err, tc.want)
		}
	}
	if _, err := ParseClass("Neutrophil"); err != nil {
		t.Error(err)
	}
	if _, err := ParseClass("blast"); err == nil || !strings.Contains(err.Error(), "neutrophil") {
		t.Errorf("ParseClass(blast): %v, want an error listing the known classes", err)
	}
}

func readManifest(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

func TestGenerate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	cfg := Config{N: 24, Size: 32, Seed: 9, Sites: 2, Classes: []Class{Basophil, Eosinophil, Platelet}, Difficulty: 0.5}
	mp, err := Generate(dir, cfg)
	if err != nil {
		t.Fatal(err)
	}
	rows := readManifest(t, mp)
	if strings.Join(rows[0], ",") != "path,label,split,site" || len(rows) != 25 {
		t.Fatalf("manifest header %v with %d rows", rows[0], len(rows))
	}
	for _, r := range rows[1:] {
		data, err := os.ReadFile(filepath.Join(dir, r[0]))
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("%s: %v", r[0], err)
		}
		if b := img.Bounds(); b.Dx() != 32 || b.Dy() != 32 {
			t.Fatalf("%s is %v, want 32x32", r[0], b)
		}
		if !strings.HasPrefix(r[0], r[1]+"/") || (r[3] != "site1" && r[3] != "site2") {
			t.Fatalf("manifest row %v", r)
		}
	}
	// No temporary files are left, and a second run gives identical bytes.
	first := snapshot(t, dir)
	for name := range first {
		if strings.Contains(name, ".tmp") {
			t.Errorf("temporary file %s left behind", name)
		}
	}
	if _, err := Generate(dir, cfg); err != nil {
		t.Fatalf("regenerating over an earlier output: %v", err)
	}
	second := snapshot(t, dir)
	if len(first) != len(second) {
		t.Fatalf("%d files, then %d", len(first), len(second))
	}
	for name, b := range first {
		if !bytes.Equal(b, second[name]) {
			t.Fatalf("%s differs between two runs with one seed", name)
		}
	}
	// A smaller run over it removes the images it no longer lists.
	cfg.N = 6
	if _, err := Generate(dir, cfg); err != nil {
		t.Fatal(err)
	}
	if n := len(snapshot(t, dir)); n != 7 {
		t.Errorf("%d files after shrinking to 6 images, want 7 (with the manifest)", n)
	}
}

func snapshot(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		files[filepath.ToSlash(rel)] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func TestGenerateRefusesForeignDirectory(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Generate(dir, Config{N: 8, Size: 16})
	if err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("Generate into a directory with other files: %v, want a refusal", err)
	}
	if err := os.WriteFile(filepath.Join(dir, ManifestName), []byte("path,label\n../../etc/passwd,x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Generate(dir, Config{N: 8, Size: 16})
	if err == nil || !strings.Contains(err.Error(), "did not write") {
		t.Fatalf("Generate over a foreign manifest: %v, want a refusal", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "notes.txt")); err != nil {
		t.Fatal("a refused Generate touched the user's file")
	}
}

func BenchmarkCell64(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	st := DefaultStyle()
	st.Variability = 0.5
	for i := 0; b.Loop(); i++ {
		Cell(rng, Class(i%int(numClasses)), 64, st)
	}
}

func BenchmarkGenerate200(b *testing.B) {
	for b.Loop() {
		dir := b.TempDir()
		if _, err := Generate(dir, Config{N: 200, Seed: 1, Difficulty: 0.5}); err != nil {
			b.Fatal(err)
		}
	}
}
