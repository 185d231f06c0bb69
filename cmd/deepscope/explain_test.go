package main

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deepscope/deepscope/eval"
	"github.com/deepscope/deepscope/synth"
	"github.com/deepscope/deepscope/train"
)

// tinyRun trains CellNet for one epoch on 48 synthetic 16-pixel cells and
// returns the run directory and the data folder.
func tinyRun(t *testing.T) (run, dataDir string) {
	t.Helper()
	dataDir = filepath.Join(t.TempDir(), "cells")
	manifest, err := synth.Generate(dataDir, synth.Config{N: 48, Size: 16, Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	cfg := train.Defaults()
	cfg.Data, cfg.Size, cfg.Epochs, cfg.Batch, cfg.TTA = manifest, 16, 1, 16, false
	run = filepath.Join(t.TempDir(), "run")
	if _, err := train.Run(context.Background(), cfg, train.Options{Out: run}); err != nil {
		t.Fatal(err)
	}
	return run, dataDir
}

func runDeepscope(args ...string) (string, error) {
	root := newRoot()
	var out, errs bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errs)
	root.SetArgs(append(args, "--threads", "1"))
	err := root.Execute()
	return out.String(), err
}

func TestExplainCommand(t *testing.T) {
	run, dataDir := tinyRun(t)
	imgs, err := filepath.Glob(filepath.Join(dataDir, "*", "*.png"))
	if err != nil || len(imgs) < 2 {
		t.Fatalf("images: %v %v", imgs, err)
	}
	out := filepath.Join(t.TempDir(), "maps")

	t.Run("maps", func(t *testing.T) {
		stdout, err := runDeepscope("explain", "--model", run, "--method", "gradcam,ig,shap", "--samples", "32", "--steps", "16",
			"--out", out, imgs[0], imgs[1])
		if err != nil {
			t.Fatal(err)
		}
		if n := strings.Count(stdout, "\n"); n != 6 {
			t.Errorf("%d lines of output, want 6:\n%s", n, stdout)
		}
		for _, img := range imgs[:2] {
			name := strings.TrimSuffix(filepath.Base(img), ".png")
			for _, m := range []string{"gradcam", "ig", "shap"} {
				base := filepath.Join(out, name+"."+m)
				if st, err := os.Stat(base + ".png"); err != nil || st.Size() == 0 {
					t.Errorf("%s.png: %v", base, err)
				}
				var js explanationJSON
				b, err := os.ReadFile(base + ".json")
				if err != nil {
					t.Fatal(err)
				}
				if err := json.Unmarshal(b, &js); err != nil {
					t.Fatal(err)
				}
				var sum float64
				for _, p := range js.Probs {
					sum += p
				}
				if js.Method != m || js.Height != 16 || len(js.Map) != 16 || len(js.Map[0]) != 16 ||
					js.Class != js.Predicted || math.Abs(sum-1) > 1e-4 {
					t.Errorf("%s.json: method %s, %dx%d map, class %s, predicted %s, probabilities sum to %g",
						base, js.Method, js.Height, len(js.Map), js.Class, js.Predicted, sum)
				}
			}
		}
	})

	t.Run("class", func(t *testing.T) {
		if _, err := runDeepscope("explain", "--model", run, "--class", "platelet", "--out", out, imgs[0]); err != nil {
			t.Fatal(err)
		}
		name := strings.TrimSuffix(filepath.Base(imgs[0]), ".png")
		b, _ := os.ReadFile(filepath.Join(out, name+".gradcam.json"))
		var js explanationJSON
		if err := json.Unmarshal(b, &js); err != nil || js.Class != "platelet" {
			t.Errorf("class %q (%v), want platelet", js.Class, err)
		}
	})

	t.Run("errors", func(t *testing.T) {
		bad := filepath.Join(t.TempDir(), "bad.png")
		os.WriteFile(bad, []byte("not a png"), 0o644)
		cases := []struct {
			args []string
			want string
		}{
			{[]string{"--class", "blast", imgs[0]}, "not one of the model's classes"},
			{[]string{"--method", "deeplift", imgs[0]}, "unknown method"},
			{[]string{"--baseline", "white", imgs[0]}, "unknown baseline"},
			{nil, "name images"},
			{[]string{bad, imgs[0]}, "1 of 2 images failed"},
		}
		for _, c := range cases {
			args := append([]string{"explain", "--model", run, "--out", out}, c.args...)
			if _, err := runDeepscope(args...); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%v: error %v, want %q", c.args, err, c.want)
			}
		}
	})

	t.Run("faithfulness", func(t *testing.T) {
		stdout, err := runDeepscope("explain", "--model", run, "--faithfulness", "--n", "3", "--method", "gradcam,occlusion,random",
			"--curve-steps", "8")
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(stdout), "\n")
		if len(lines) != 5 || !strings.HasPrefix(lines[0], "| method | images | deletion AUC") || !strings.HasPrefix(lines[4], "| random | 3 |") {
			t.Errorf("table:\n%s", stdout)
		}
	})

	t.Run("report gallery", func(t *testing.T) {
		res, err := eval.Run(run, eval.Options{Resamples: 10})
		if err != nil {
			t.Fatal(err)
		}
		page, err := eval.Page(run, res, eval.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if n := len(page.Explanations); n == 0 || n > 16 {
			t.Fatalf("%d Grad-CAM figures, want 1 to 16", n)
		}
		for _, f := range page.Explanations {
			if !strings.HasPrefix(f.Caption, "Grad-CAM: ") || len(f.Image) == 0 {
				t.Errorf("figure %q with %d bytes", f.Caption, len(f.Image))
			}
		}
	})

	t.Run("sanity", func(t *testing.T) {
		stdout, err := runDeepscope("explain", "--model", run, "--sanity", "--method", "gradcam,random", imgs[0], imgs[1])
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(stdout), "\n")
		if len(lines) != 4 || !strings.HasPrefix(lines[0], "| method | fc | +layer4 |") || !strings.HasPrefix(lines[3], "| random | 1.000 |") {
			t.Errorf("table:\n%s", stdout)
		}
	})
}
