package main

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deepscope/deepscope/segment"
)

// segWriteMaskDataset writes n RGB images of dark nuclei on a pale field
// in the Data Science Bowl's layout (ID/images/ID.png, ID/masks/K.png).
func segWriteMaskDataset(t *testing.T, dir string, n, size int) {
	t.Helper()
	rng := rand.New(rand.NewPCG(11, 12))
	save := func(p string, img image.Image) {
		os.MkdirAll(filepath.Dir(p), 0o755)
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := png.Encode(f, img); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("id%02d", i)
		img := image.NewRGBA(image.Rect(0, 0, size, size))
		for k := range img.Pix {
			img.Pix[k] = uint8(220 + rng.IntN(20))
		}
		for k := 0; k < 4; k++ {
			cx, cy, r := 8+rng.Float64()*float64(size-16), 8+rng.Float64()*float64(size-16), 4+3*rng.Float64()
			m := image.NewGray(image.Rect(0, 0, size, size))
			for y := 0; y < size; y++ {
				for x := 0; x < size; x++ {
					dx, dy := float64(x)-cx, float64(y)-cy
					if d := dx*dx + dy*dy; d <= r*r {
						m.SetGray(x, y, color.Gray{255})
						v := uint8(60 + 80*d/(r*r))
						img.Set(x, y, color.RGBA{v + 40, v, v + 60, 255})
					}
				}
			}
			save(filepath.Join(dir, id, "masks", fmt.Sprintf("%d.png", k)), m)
		}
		save(filepath.Join(dir, id, "images", id+".png"), img)
	}
}

// segmentCmd runs "deepscope --threads 1 segment ARGS..." and returns what
// it printed.
func segmentCmd(args ...string) (string, error) {
	root := newRoot()
	var buf bytes.Buffer
	root.SetOut(&buf)
	root.SetErr(&buf)
	root.SetArgs(append([]string{"--threads", "1", "segment"}, args...))
	err := root.Execute()
	return buf.String(), err
}

// segmentRefuses runs "deepscope segment ARGS..." and reports an error
// unless it fails with an error containing want.
func segmentRefuses(t *testing.T, want string, args ...string) {
	t.Helper()
	if _, err := segmentCmd(args...); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("segment %s: error %v, want one containing %q", strings.Join(args, " "), err, want)
	}
}

// segTinyTrain returns "segment train" arguments for a tiny U-Net on the
// masks dataset data, trained in a few seconds.
func segTinyTrain(data string) []string {
	return []string{"train", "--data", data, "--epochs", "30", "--size", "32", "--base", "8", "--depth", "2",
		"--batch", "4", "--lr", "0.005", "--holdout", "0.2", "--val-every", "15", "--tile", "64", "--overlap", "16"}
}

func TestSegmentTrainPredictEval(t *testing.T) {
	dir := t.TempDir()
	data, run, out := filepath.Join(dir, "data"), filepath.Join(dir, "run"), filepath.Join(dir, "pred")
	segWriteMaskDataset(t, data, 10, 48)
	cmd := segmentCmd
	if o, err := cmd(append(segTinyTrain(data), "--out", run)...); err != nil {
		t.Fatalf("train: %v\n%s", err, o)
	} else if !strings.Contains(o, "score") || !strings.Contains(o, "tuned thresholds") {
		t.Errorf("train printed no score or no tuning:\n%s", o)
	}
	for _, f := range []string{"run.json", "best.safetensors", "eval.json", "report.html"} {
		if _, err := os.Stat(filepath.Join(run, f)); err != nil {
			t.Errorf("run lacks %s", f)
		}
	}
	report, _ := os.ReadFile(filepath.Join(run, "report.html"))
	if !strings.Contains(string(report), "Data Science Bowl score") || !strings.Contains(string(report), "data:image/png;base64,") {
		t.Error("report.html lacks the score or the worst images")
	}

	img := filepath.Join(data, "id03", "images", "id03.png")
	o, err := cmd("predict", "--model", run, "--out", out, img, filepath.Join(data, "id04", "images"))
	if err != nil {
		t.Fatalf("predict: %v\n%s", err, o)
	}
	for _, f := range []string{"labels/id03.png", "overlays/id03.png", "labels/id04.png", "objects.csv", "counts.csv"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("predict wrote no %s", f)
		}
	}
	f, err := os.Open(filepath.Join(out, "objects.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) < 5 || strings.Join(rows[0], ",") != "image,id,area,perimeter,centroid_x,centroid_y,eccentricity,mean_intensity" {
		t.Errorf("objects.csv: %d rows, header %v", len(rows), rows[0])
	}
	if !strings.Contains(o, "id03.png\t") {
		t.Errorf("predict printed no count for id03.png:\n%s", o)
	}

	if o, err := cmd("eval", "--model", run, "--all"); err != nil || !strings.Contains(o, "10 images (all)") || !strings.Contains(o, "errors at IoU 0.5: ") {
		t.Errorf("eval --all: %v\n%s", err, o)
	}
	// Tuning again, then thresholds given by hand, recorded in eval.json.
	if o, err := cmd("tune", "--model", run); err != nil || !strings.Contains(o, "with thresholds chosen on the other half") || !strings.Contains(o, "min area") {
		t.Errorf("tune: %v\n%s", err, o)
	}
	// Tuning for test-time augmentation makes it the run's setting, and
	// --tta=false takes it back.
	for _, on := range []bool{true, false} {
		if o, err := cmd("tune", "--model", run, fmt.Sprintf("--tta=%v", on)); err != nil {
			t.Fatalf("tune --tta=%v: %v\n%s", on, err, o)
		}
		ri, err := segment.ReadRunInfo(run)
		if err != nil {
			t.Fatal(err)
		}
		if ri.Config.TTA != on || ri.Tuning.TTA != on {
			t.Errorf("after tune --tta=%v: run's tta %v, tuning's %v", on, ri.Config.TTA, ri.Tuning.TTA)
		}
		if m, _, err := segment.Load(run); err != nil || m.TTA != on {
			t.Errorf("after tune --tta=%v: loaded model's tta %v (%v)", on, m != nil && m.TTA, err)
		}
	}
	if o, err := cmd("eval", "--model", run, "--fg-prob", "0.7", "--seed-prob", "0.6"); err != nil {
		t.Errorf("eval with thresholds: %v\n%s", err, o)
	} else if b, _ := os.ReadFile(filepath.Join(run, "eval.json")); !strings.Contains(string(b), `"foreground": 0.7`) || !strings.Contains(string(b), `"seed": 0.6`) {
		t.Errorf("eval.json does not record the thresholds given:\n%s", b[:min(len(b), 400)])
	}
	segmentRefuses(t, "fg-prob", "eval", "--model", run, "--fg-prob", "1.5")
	segmentRefuses(t, "does not apply", "eval", "--model", run, "--nms", "0.3") // an hv run, the default
	segmentRefuses(t, "min-confidence 1", "eval", "--model", run, "--min-confidence", "1")
	// Bad input: a missing partner names the file.
	os.Remove(filepath.Join(data, "id05", "images", "id05.png"))
	segmentRefuses(t, "id05", "eval", "--model", run, "--all")
}

func TestSegmentStarHead(t *testing.T) {
	dir := t.TempDir()
	data, run := filepath.Join(dir, "data"), filepath.Join(dir, "run")
	segWriteMaskDataset(t, data, 10, 48)
	cmd := segmentCmd
	train := segTinyTrain(data)
	segmentRefuses(t, `head "flow"`, append(train, "--out", filepath.Join(dir, "bad"), "--head", "flow")...)
	segmentRefuses(t, "30 rays", append(train, "--out", filepath.Join(dir, "bad"), "--head", "star", "--rays", "30")...)
	segmentRefuses(t, "--contact-weight", append(train, "--out", filepath.Join(dir, "bad"), "--head", "star", "--contact-weight", "10")...)
	o, err := cmd(append(train, "--out", run, "--head", "star", "--rays", "16")...)
	if err != nil {
		t.Fatalf("train --head star: %v\n%s", err, o)
	}
	if !strings.Contains(o, "star-convex (16 rays) head") || !strings.Contains(o, "NMS overlap") {
		t.Errorf("train --head star printed no head or no NMS tuning:\n%s", o)
	}
	report, _ := os.ReadFile(filepath.Join(run, "report.html"))
	if !strings.Contains(string(report), "Star-convex head with 16 rays") {
		t.Error("report.html does not say how the star-convex objects were made")
	}
	if o, err := cmd("eval", "--model", run, "--nms", "0.55", "--tta"); err != nil {
		t.Errorf("eval --nms: %v\n%s", err, o)
	} else if b, _ := os.ReadFile(filepath.Join(run, "eval.json")); !strings.Contains(string(b), `"nms": 0.55`) || !strings.Contains(string(b), `"rays": 16`) {
		t.Errorf("eval.json does not record the NMS threshold or the rays:\n%s", b[:min(len(b), 400)])
	}
	segmentRefuses(t, "nms", "eval", "--model", run, "--nms", "1")
	segmentRefuses(t, "does not apply", "eval", "--model", run, "--seed-prob", "0.5") // a star run
	segmentRefuses(t, "does not apply", "eval", "--model", run, "--min-confidence", "0.8")
	segmentRefuses(t, "hv head only", "eval", "--model", run, "--energy", "0.1")
}

func TestSegmentHVHead(t *testing.T) {
	dir := t.TempDir()
	data, run := filepath.Join(dir, "data"), filepath.Join(dir, "run")
	segWriteMaskDataset(t, data, 10, 48)
	cmd := segmentCmd
	train := segTinyTrain(data)
	segmentRefuses(t, "--zoom", append(train, "--out", filepath.Join(dir, "bad"), "--head", "hv", "--zoom", "0.5")...)
	o, err := cmd(append(train, "--out", run, "--head", "hv")...)
	if err != nil {
		t.Fatalf("train --head hv: %v\n%s", err, o)
	}
	if !strings.Contains(o, "three-class with distance maps (hv) head") || !strings.Contains(o, "energy") {
		t.Errorf("train --head hv printed no head or no energy tuning:\n%s", o)
	}
	report, _ := os.ReadFile(filepath.Join(run, "report.html"))
	if !strings.Contains(string(report), "distance maps to fall by less than") {
		t.Error("report.html does not say how the distance maps cut seeds")
	}
	if o, err := cmd("eval", "--model", run, "--energy", "0.2"); err != nil {
		t.Errorf("eval --energy: %v\n%s", err, o)
	} else if b, _ := os.ReadFile(filepath.Join(run, "eval.json")); !strings.Contains(string(b), `"energy": 0.2`) || !strings.Contains(string(b), `"hv": true`) {
		t.Errorf("eval.json does not record the energy or the head:\n%s", b[:min(len(b), 500)])
	}
	segmentRefuses(t, "energy 1.5", "eval", "--model", run, "--energy", "1.5")
	segmentRefuses(t, "does not apply", "eval", "--model", run, "--nms", "0.3")
}
