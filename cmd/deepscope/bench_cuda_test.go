package main

import (
	"strings"
	"testing"

	"github.com/deepscope/deepscope/cuda"
)

func TestBenchDevice(t *testing.T) {
	_, noGPU := cuda.Count()
	_, err := runDeepscope("bench", "--device", "tpu")
	if err == nil || !strings.Contains(err.Error(), `--device "tpu"`) {
		t.Errorf("bench --device tpu: %v, want an error naming the device", err)
	}
	out, err := runDeepscope("bench", "--device", "cuda", "--what", "gemm", "--iters", "1")
	switch {
	case noGPU != nil && (err == nil || !strings.Contains(err.Error(), "libcuda.so.1")):
		t.Errorf("bench --device cuda without a GPU: %v, want an error naming libcuda.so.1", err)
	case noGPU == nil && (err != nil || !strings.Contains(out, `"tflops"`)):
		t.Errorf("bench --device cuda: %v, output %q", err, out)
	}
}
