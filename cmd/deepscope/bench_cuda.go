package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"time"

	"github.com/deepscope/deepscope/cuda"
	"github.com/deepscope/deepscope/cuda/netstate"
	"github.com/deepscope/deepscope/cuda/resnet"
	"github.com/deepscope/deepscope/models"
	"github.com/deepscope/deepscope/optim"
	"github.com/deepscope/deepscope/tensor"
)

// runBenchCUDA prints the GPU's figures: cuBLAS GEMM TFLOP/s (TF32) and the
// model's training and inference images/s, with inputs resident on the
// card as PyTorch's benchmark keeps them.
func runBenchCUDA(out *json.Encoder, log io.Writer, model string, sizes []int, batch, iters int, want map[string]bool) error {
	d, err := cuda.Open(0)
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	defer d.Close()
	major, minor := cuda.NVRTCVersion()
	fmt.Fprintf(log, "%s, compute capability %d.%d, %d multiprocessors; cuBLAS %d, cuDNN %d, NVRTC %d.%d from\n%s",
		d.Name, d.Major, d.Minor, d.SMs, d.BLASVersion(), cuda.DNNVersion(), major, minor, cuda.Libraries())
	if want["gemm"] {
		for _, s := range [][3]int{{100352, 576, 64}, {2048, 4608, 512}, {8192, 8192, 8192}} {
			tf, secs, err := benchGemmCUDA(d, s[0], s[2], s[1], iters)
			if err != nil {
				return err
			}
			f := benchFigure{What: "gemm", Device: d.Name, TFLOPS: round(tf), TF32: d.TF32, Seconds: round(secs),
				Shape: fmt.Sprintf("m=%d n=%d k=%d", s[0], s[2], s[1])}
			if err := out.Encode(f); err != nil {
				return err
			}
		}
	}
	for _, size := range sizes {
		for _, phase := range []string{"train", "infer"} {
			if !want[phase] {
				continue
			}
			f, err := benchModelCUDA(d, model, size, batch, iters, phase == "train")
			if err != nil {
				return err
			}
			if err := out.Encode(f); err != nil {
				return err
			}
		}
	}
	return nil
}

// benchGemmCUDA returns the TFLOP/s of C[m,n] = A[m,k] x B[n,k]ᵀ on d.
func benchGemmCUDA(d *cuda.Device, m, n, k, iters int) (float64, float64, error) {
	rng := rand.New(rand.NewPCG(1, 1))
	var bufs [3]cuda.Mem
	for i, words := range []int{m * k, n * k, m * n} {
		b, err := d.Alloc(words)
		if err != nil {
			return 0, 0, err
		}
		defer d.Free(b)
		d.Upload(b, tensor.Randn(rng, 1, min(words, 1<<20)).Data)
		bufs[i] = b
	}
	d.Gemm(false, true, m, n, k, 1, bufs[0], k, bufs[1], k, 0, bufs[2], n)
	if err := d.Sync(); err != nil {
		return 0, 0, err
	}
	t0 := time.Now()
	for i := 0; i < iters; i++ {
		d.Gemm(false, true, m, n, k, 1, bufs[0], k, bufs[1], k, 0, bufs[2], n)
	}
	if err := d.Sync(); err != nil {
		return 0, 0, err
	}
	dt := time.Since(t0).Seconds()
	return 2 * float64(m) * float64(n) * float64(k) * float64(iters) / dt / 1e12, dt, nil
}

// benchModelCUDA times training steps (AdamW) or inference passes on the
// GPU on random data.
func benchModelCUDA(d *cuda.Device, name string, size, batch, iters int, train bool) (benchFigure, error) {
	rng := rand.New(rand.NewPCG(1, 2))
	m, err := models.New(name, rng, models.Spec{Classes: 8, Size: size})
	if err != nil {
		return benchFigure{}, err
	}
	net, err := resnet.New(d, m, batch, size, 3)
	if err != nil {
		return benchFigure{}, fmt.Errorf("bench: %s: %w", name, err)
	}
	defer net.Close()
	cpuOpt, err := optim.NewAdam(m, optim.AdamConfig{LR: 1e-3})
	if err != nil {
		return benchFigure{}, err
	}
	if err := net.SetOptimizer(netstate.Optimizer{Kind: "adam"}, cpuOpt); err != nil {
		return benchFigure{}, err
	}
	x := tensor.Randn(rng, 1, batch, size, size, 3)
	y := make([]int, batch)
	for i := range y {
		y[i] = rng.IntN(8)
	}
	if err := net.Upload(x, y); err != nil {
		return benchFigure{}, err
	}
	step := func(i int) error {
		if train {
			return net.Step(1e-3, uint64(i))
		}
		return net.Infer()
	}
	for i := 0; i < 5; i++ { // warm-up: kernels loaded, clocks up
		if err := step(i); err != nil {
			return benchFigure{}, err
		}
	}
	if err := d.Sync(); err != nil {
		return benchFigure{}, err
	}
	t0 := time.Now()
	for i := 0; i < iters; i++ {
		if err := step(i); err != nil {
			return benchFigure{}, err
		}
	}
	if err := d.Sync(); err != nil {
		return benchFigure{}, err
	}
	dt := time.Since(t0).Seconds()
	what := "infer"
	if train {
		what = "train"
	}
	return benchFigure{What: what, Model: name, Size: size, Batch: batch, Device: d.Name, TF32: d.TF32,
		ImgPerS: round(float64(batch*iters) / dt), Seconds: round(dt)}, nil
}
