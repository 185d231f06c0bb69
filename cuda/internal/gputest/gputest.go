// Package gputest holds what the GPU packages' tests share: the device
// they run on (or a skip where there is none) and the comparisons of the
// GPU's numbers with the CPU's.
package gputest

import (
	"math"
	"sync"
	"testing"

	"github.com/deepscope/deepscope/cuda"
)

var (
	once   sync.Once
	dev    *cuda.Device
	devErr error
)

// Device returns the first GPU, opened once per test binary, with TF32
// off so that its float32 arithmetic can be compared with the CPU's. It
// skips the test where there is no CUDA driver and fails it where the
// driver is there but the GPU cannot be opened.
func Device(t testing.TB) *cuda.Device {
	t.Helper()
	once.Do(func() {
		if _, err := cuda.Count(); err != nil {
			devErr = err
			return
		}
		dev, devErr = cuda.Open(0)
	})
	if devErr != nil {
		if _, err := cuda.Count(); err != nil {
			t.Skip("cuda: no CUDA driver (libcuda.so.1) found; skipping")
		}
		t.Fatalf("opening the GPU: %v", devErr)
	}
	dev.TF32 = false
	return dev
}

// MaxAbs returns the largest |v[i]|.
func MaxAbs(v []float32) float64 {
	m := 0.0
	for _, x := range v {
		m = math.Max(m, math.Abs(float64(x)))
	}
	return m
}

// MaxDiff returns the largest |a[i]-b[i]| and the largest |b[i]|.
func MaxDiff(a, b []float32) (diff, scale float64) {
	for i := range a {
		diff = math.Max(diff, math.Abs(float64(a[i])-float64(b[i])))
		scale = math.Max(scale, math.Abs(float64(b[i])))
	}
	return diff, scale
}
