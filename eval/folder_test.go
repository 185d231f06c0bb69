package eval

import (
	"os"
	"path/filepath"
	"testing"
)

// TestUnsplitFolder: a labelled folder without splits, holding a subset of
// the model's classes (as another lab's images come), is measured whole.
func TestUnsplitFolder(t *testing.T) {
	dir, manifest := trainedRun(t)
	folder := t.TempDir()
	n := 0
	for _, class := range []string{"lymphocyte", "neutrophil"} {
		files, err := filepath.Glob(filepath.Join(filepath.Dir(manifest), class, "*.png"))
		if err != nil || len(files) < 3 {
			t.Fatalf("%s: %v %v", class, files, err)
		}
		if err := os.MkdirAll(filepath.Join(folder, class), 0o755); err != nil {
			t.Fatal(err)
		}
		for _, f := range files[:3] {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(folder, class, filepath.Base(f)), b, 0o644); err != nil {
				t.Fatal(err)
			}
			n++
		}
	}
	out, err := Run(dir, Options{Data: folder, Resamples: 10})
	if err != nil {
		t.Fatal(err)
	}
	if out.Eval.Result.N != n || len(out.Model.Info.Classes) != 8 {
		t.Fatalf("measured %d images over %d classes, want %d over the model's 8", out.Eval.Result.N, len(out.Model.Info.Classes), n)
	}
	lym := out.Eval.Result.Class("lymphocyte")
	if lym == nil || lym.Support != 3 {
		t.Errorf("lymphocyte support %+v, want 3", lym)
	}
}
