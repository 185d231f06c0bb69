package segment

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deepscope/deepscope/cuda"
)

func TestDeviceRefusals(t *testing.T) {
	data := writeDataset(t, t.TempDir(), 4, 64, 3)
	for _, c := range []struct {
		name   string
		edit   func(*Config)
		device string
		want   string
	}{
		{"unknown device", func(*Config) {}, "tpu", `device "tpu"`},
		{"star head", func(c *Config) { c.Head = HeadStar }, DeviceCUDA, `"star" head trains on the CPU`},
		{"contact weights", func(c *Config) { c.ContactWeight = 5 }, DeviceCUDA, "--contact-weight trains on the CPU only"},
		{"base", func(c *Config) { c.Base = 6 }, DeviceCUDA, "--base 6"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := tinyConfig(data)
			c.edit(&cfg)
			out := filepath.Join(t.TempDir(), "run")
			_, err := Train(context.Background(), cfg, Options{Out: out, Device: c.device})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an error saying %q", err, c.want)
			}
			if _, err := os.Stat(out); err == nil {
				t.Errorf("a refused run wrote %s", out)
			}
		})
	}
}

// TestTrainOnGPU trains the tiny U-Net on a GPU, stopping it once after a
// mid-epoch checkpoint and resuming it, and checks that the model learnt
// what the CPU's learns (TestTrainPredictEndToEnd's bar).
func TestTrainOnGPU(t *testing.T) {
	if n, err := cuda.Count(); err != nil || n == 0 {
		t.Skip("cuda: no CUDA driver or GPU; skipping")
	}
	for _, head := range []string{HeadClasses, HeadHV} {
		t.Run(head, func(t *testing.T) {
			data := writeDataset(t, t.TempDir(), 16, 64, 7)
			out := filepath.Join(t.TempDir(), "run")
			cfg := tinyConfig(data)
			cfg.Head = head
			if _, err := Train(context.Background(), cfg, Options{Out: out, Device: DeviceCUDA, StopAfterSteps: 80}); err != ErrInterrupted {
				t.Fatalf("stopping after 80 steps: %v", err)
			}
			sum, err := Train(context.Background(), Config{}, Options{Out: out, Device: DeviceCUDA, Resume: true})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("trained %d epochs: hold-out score %.3f at epoch %d", sum.Epochs, sum.Best, sum.BestEpoch)
			logs, err := ReadMetrics(out)
			if err != nil || len(logs) != cfg.Epochs {
				t.Fatalf("metrics.jsonl: %d epochs (%v), want %d", len(logs), err, cfg.Epochs)
			}
			m, ri, err := Load(out)
			if err != nil {
				t.Fatal(err)
			}
			if ri.Device != DeviceCUDA {
				t.Errorf("run.json records device %q", ri.Device)
			}
			img, truth := touchingNuclei()
			checkSegments(t, "trained on the GPU", truth, m.Segment(img))
		})
	}
}
