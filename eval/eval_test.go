package eval

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deepscope/deepscope/data"
	"github.com/deepscope/deepscope/synth"
	"github.com/deepscope/deepscope/train"
)

// trainedRun trains a tiny model on synthetic cells and returns its run
// directory and the data's manifest.
func trainedRun(t *testing.T) (dir, manifest string) {
	t.Helper()
	root := t.TempDir()
	manifest, err := synth.Generate(filepath.Join(root, "data"), synth.Config{N: 160, Size: 16, Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	cfg := train.Defaults()
	cfg.Data, cfg.Size, cfg.Epochs, cfg.Batch, cfg.TTA = manifest, 16, 1, 16, true
	dir = filepath.Join(root, "run")
	if _, err := train.Run(context.Background(), cfg, train.Options{Out: dir}); err != nil {
		t.Fatal(err)
	}
	return dir, manifest
}

func TestRunAndReport(t *testing.T) {
	dir, manifest := trainedRun(t)
	out, err := Run(dir, Options{Resamples: 50})
	if err != nil {
		t.Fatal(err)
	}
	ds, err := data.Open(manifest)
	if err != nil {
		t.Fatal(err)
	}
	if want := ds.Subset("test").Len(); out.Eval.Result.N != want {
		t.Errorf("evaluated %d images, the test split has %d", out.Eval.Result.N, want)
	}
	if err := WriteReport(dir, out, Options{}); err != nil {
		t.Fatal(err)
	}
	page, err := os.ReadFile(filepath.Join(dir, train.ReportFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Confusion matrix", "<svg", "data:image/png;base64"} {
		if !strings.Contains(string(page), want) {
			t.Errorf("report.html lacks %q", want)
		}
	}
	var js map[string]any
	b, err := os.ReadFile(filepath.Join(dir, train.EvalFile))
	if err != nil || json.Unmarshal(b, &js) != nil {
		t.Fatalf("eval.json unreadable: %v", err)
	}
	if _, ok := js["accuracy"]; !ok {
		t.Errorf("eval.json has no accuracy: %v", js)
	}
	if !strings.Contains(Summary(out.Eval.Result), "accuracy") {
		t.Error("summary line lacks the accuracy")
	}
}

// TestSubsetOfClasses evaluates on data holding only some of the model's
// classes, in another order: labels must be mapped by name.
func TestSubsetOfClasses(t *testing.T) {
	dir, manifest := trainedRun(t)
	full, err := data.Open(manifest)
	if err != nil {
		t.Fatal(err)
	}
	// A manifest with two classes, named in reverse order, test split only.
	keep := map[string]bool{full.Classes[1]: true, full.Classes[4]: true}
	var lines []string
	lines = append(lines, "path,label,split")
	for _, it := range full.Items {
		name := full.Classes[it.Label]
		if keep[name] && it.Split == "test" {
			lines = append(lines, it.Path+","+name+",test")
		}
	}
	sub := filepath.Join(full.Root, "subset.csv")
	if err := os.WriteFile(sub, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := Run(dir, Options{Data: sub, Resamples: -1})
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range out.Eval.Labels {
		if name := out.Model.Info.Classes[l]; !keep[name] {
			t.Fatalf("image %d labelled %q, which is not in the subset", i, name)
		}
	}
	if out.Eval.Result.N != len(lines)-1 {
		t.Errorf("evaluated %d images, want %d", out.Eval.Result.N, len(lines)-1)
	}

	bad := filepath.Join(full.Root, "bad.csv")
	os.WriteFile(bad, []byte("path,label,split\n"+strings.Split(lines[1], ",")[0]+",megakaryocyte,test\n"), 0o644)
	if _, err := Run(dir, Options{Data: bad}); err == nil || !strings.Contains(err.Error(), "megakaryocyte") {
		t.Errorf("an unknown class gave %v, want an error naming it", err)
	}
}
