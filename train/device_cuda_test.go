package train

import (
	"context"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deepscope/deepscope/cuda"
	"github.com/deepscope/deepscope/nn"
)

func TestDeviceIsValidated(t *testing.T) {
	for _, c := range []struct {
		device string
		ok     bool
	}{{"", true}, {"cpu", true}, {"cuda", true}, {"gpu", false}, {"CUDA", false}} {
		cfg := Defaults()
		cfg.Data = "x"
		cfg.Device = c.device
		err := cfg.Validate()
		if (err == nil) != c.ok {
			t.Errorf("device %q: Validate gave %v", c.device, err)
		}
		if err != nil && !strings.Contains(err.Error(), "device") {
			t.Errorf("device %q: the error %q does not name the field", c.device, err)
		}
	}
}

// TestRunOnCUDA trains two epochs on the GPU where there is one; elsewhere
// it checks that asking for the GPU is an error that names the driver.
func TestRunOnCUDA(t *testing.T) {
	cfg := tinyConfig(tinyData(t))
	cfg.Model = "cellnet"
	cfg.Device = "cuda"
	cfg.Epochs = 2
	out := filepath.Join(t.TempDir(), "run")
	_, err := Run(context.Background(), cfg, Options{Out: out})
	if _, derr := cuda.Count(); derr != nil {
		if err == nil || !strings.Contains(err.Error(), "libcuda.so.1") {
			t.Fatalf("without a driver Run gave %v, want an error naming libcuda.so.1", err)
		}
		t.Skip("cuda: no CUDA driver (libcuda.so.1) found; skipping the GPU run")
	}
	if err != nil {
		t.Fatal(err)
	}
	logs, err := ReadMetrics(out)
	if err != nil || len(logs) != 2 {
		t.Fatalf("metrics: %d epochs, %v", len(logs), err)
	}
	m, err := Load(out)
	if err != nil {
		t.Fatal(err)
	}
	nn.Walk(m.Net, func(name string, p *nn.Param) {
		for _, v := range p.Value.Values() {
			if math.IsNaN(float64(v)) {
				t.Fatalf("%s holds NaN after training on the GPU", name)
			}
		}
	})
	for _, l := range logs {
		if math.IsNaN(l.TrainLoss) || math.IsNaN(l.ValLoss) || l.TrainLoss <= 0 {
			t.Errorf("epoch %d: train loss %g, val loss %g", l.Epoch, l.TrainLoss, l.ValLoss)
		}
	}
	if logs[1].TrainLoss >= logs[0].TrainLoss*1.5 {
		t.Errorf("train loss went from %g to %g on the GPU", logs[0].TrainLoss, logs[1].TrainLoss)
	}
}

// TestPauseResumeOnCUDA pauses a GPU run after its first epoch and resumes
// it: the checkpoint the device's state was stored into carries it on.
func TestPauseResumeOnCUDA(t *testing.T) {
	if _, err := cuda.Count(); err != nil {
		t.Skip("cuda: no CUDA driver (libcuda.so.1) found; skipping")
	}
	cfg := tinyConfig(tinyData(t))
	cfg.Model, cfg.Device, cfg.Epochs = "resnet18-medmnist", "cuda", 2
	out := filepath.Join(t.TempDir(), "run")
	sum, err := Run(context.Background(), cfg, Options{Out: out, EpochHook: func(EpochLog) bool { return true }})
	if err != nil || sum.Stopped != "paused" || sum.Epochs != 1 {
		t.Fatalf("first part: %+v, %v", sum, err)
	}
	sum, err = Run(context.Background(), cfg, Options{Out: out, Resume: true})
	if err != nil || sum.Epochs != 2 {
		t.Fatalf("resumed: %+v, %v", sum, err)
	}
	logs, err := ReadMetrics(out)
	if err != nil || len(logs) != 2 || logs[1].Step != 2*logs[0].Step {
		t.Fatalf("metrics after resuming: %+v, %v", logs, err)
	}
}

// TestResumeChoosesDevice resumes a CPU run with Device "cuda": the device
// given on resuming wins over the stored one.
func TestResumeChoosesDevice(t *testing.T) {
	cfg := tinyConfig(tinyData(t))
	cfg.Model, cfg.Epochs = "cellnet", 2
	out := filepath.Join(t.TempDir(), "run")
	if _, err := Run(context.Background(), cfg, Options{Out: out, EpochHook: func(EpochLog) bool { return true }}); err != nil {
		t.Fatal(err)
	}
	_, err := Run(context.Background(), Config{Device: "cuda"}, Options{Out: out, Resume: true})
	if _, derr := cuda.Count(); derr != nil {
		if err == nil || !strings.Contains(err.Error(), "libcuda.so.1") {
			t.Fatalf("resuming on a GPU that is not there: %v, want an error naming libcuda.so.1", err)
		}
		return
	}
	if err != nil {
		t.Fatalf("resuming a CPU run on the GPU: %v", err)
	}
}
