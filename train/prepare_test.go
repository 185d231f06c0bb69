package train

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/deepscope/deepscope/data"
)

// TestPreparationRun trains with stain normalisation and a cell crop: the
// fitted preparation is in run.json, a loaded model prepares images with
// it as the training loader did, and an interrupted run resumes exactly.
func TestPreparationRun(t *testing.T) {
	manifest := tinyData(t)
	cfg := tinyConfig(manifest)
	cfg.StainNorm, cfg.CellCrop = "reinhard", 3
	ref := t.TempDir()
	if _, err := Run(context.Background(), cfg, Options{Out: ref}); err != nil {
		t.Fatal(err)
	}
	m, err := Load(ref)
	if err != nil {
		t.Fatal(err)
	}
	p := m.Info.Preparation
	if p == nil || !p.Fitted() || p.CellCrop != 3 || p.Size != cfg.Size || m.Info.Preprocess().Prepare == nil {
		t.Fatalf("run.json preparation %+v", p)
	}
	// The model's Prepare and an evaluation loader agree.
	ds, err := data.Open(manifest)
	if err != nil {
		t.Fatal(err)
	}
	test := ds.Subset("test")
	l, err := EvalLoader(test, m.Info, 4)
	if err != nil {
		t.Fatal(err)
	}
	for b, err := range l.Epoch(0, 0) {
		if err != nil {
			t.Fatal(err)
		}
		img, err := test.Image(b.Indices[0])
		if err != nil {
			t.Fatal(err)
		}
		want := m.Prepare(img).Data
		for j, v := range b.X.Values()[:len(want)] {
			if d := v - want[j]; d > 1e-4 || d < -1e-4 {
				t.Fatalf("loader and Model.Prepare differ at %d: %v vs %v", j, v, want[j])
			}
		}
		break
	}
	out := t.TempDir()
	if _, err := Run(context.Background(), cfg, Options{Out: out, StopAfterSteps: 4}); !errors.Is(err, ErrInterrupted) {
		t.Fatal(err)
	}
	if _, err := Run(context.Background(), Config{}, Options{Out: out, Resume: true}); err != nil {
		t.Fatal(err)
	}
	if same, err := sameTensors(filepath.Join(ref, CheckpointFile), filepath.Join(out, CheckpointFile)); err != nil || !same {
		t.Errorf("resumed run with a preparation differs from the uninterrupted one (%v)", err)
	}
	bad := tinyConfig(manifest)
	bad.CellCrop, bad.Crop = 3, 0.5
	if err := bad.Validate(); err == nil {
		t.Error("cell_crop with crop 0.5 was accepted")
	}
}
