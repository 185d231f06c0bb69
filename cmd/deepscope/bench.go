package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/deepscope/deepscope/models"
	"github.com/deepscope/deepscope/nn"
	"github.com/deepscope/deepscope/optim"
	"github.com/deepscope/deepscope/tensor"
)

func init() { commands = append(commands, newBenchCmd) }

// benchFigure is one line of "deepscope bench" output.
type benchFigure struct {
	What     string  `json:"what"`
	Model    string  `json:"model,omitempty"`
	Size     int     `json:"size,omitempty"`
	Batch    int     `json:"batch,omitempty"`
	Threads  int     `json:"threads"`
	ImgPerS  float64 `json:"img_per_s,omitempty"`
	GFLOPS   float64 `json:"gflops,omitempty"`
	PeakFrac float64 `json:"peak_fraction,omitempty"`
	Shape    string  `json:"shape,omitempty"`
	PeakRSS  float64 `json:"peak_rss_mib,omitempty"`
	Seconds  float64 `json:"seconds"`
	Device   string  `json:"device,omitempty"`
	TFLOPS   float64 `json:"tflops,omitempty"`
	TF32     bool    `json:"tf32,omitempty"`
}

func newBenchCmd() *cobra.Command {
	var (
		model, sizes, what, device string
		batch, iters               int
	)
	c := &cobra.Command{
		Use:   "bench",
		Short: "Measure the engine: FMA peak, GEMM GFLOP/s, training and inference images/s",
		Long: `bench prints one JSON object per figure:
  peak   the machine's measured FMA throughput (GFLOP/s) on --threads threads
  gemm   GEMM GFLOP/s on the shapes of the model's convolutions, and their fraction of peak
  train  training images/s (forward, cross-entropy, backward, Adam step) at each size
  infer  inference images/s in eval mode at each size
Compare with PyTorch on the same machine with
  THREADS=N /usr/bin/python3 ../shared/reference/torch_pbc.py ../shared/data/pbc speed
With --device cuda the figures are the GPU's (peak is skipped, gemm is
cuBLAS with TF32), each line naming the card; compare with
  python3 scripts/torch_gpu_speed.py 28,64`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var sz []int
			for _, s := range strings.Split(sizes, ",") {
				v, err := strconv.Atoi(strings.TrimSpace(s))
				if err != nil || v < 8 {
					return fmt.Errorf("bench: bad --sizes entry %q", s)
				}
				sz = append(sz, v)
			}
			want := map[string]bool{}
			for _, w := range strings.Split(what, ",") {
				want[strings.TrimSpace(w)] = true
			}
			out := json.NewEncoder(cmd.OutOrStdout())
			switch device {
			case "cpu":
				return runBench(out, model, sz, batch, iters, want)
			case "cuda":
				if !cmd.Flags().Changed("iters") {
					iters = 50
				}
				return runBenchCUDA(out, cmd.ErrOrStderr(), model, sz, batch, iters, want)
			}
			return fmt.Errorf("bench: --device %q: want cpu or cuda", device)
		},
	}
	c.Flags().StringVar(&model, "model", "resnet18-medmnist", "model to time ("+strings.Join(models.Names(), ", ")+")")
	c.Flags().StringVar(&sizes, "sizes", "28,64", "input sizes in pixels, comma-separated")
	c.Flags().StringVar(&what, "what", "peak,gemm,train,infer", "figures to measure, comma-separated")
	c.Flags().IntVar(&batch, "batch", 128, "batch size")
	c.Flags().IntVar(&iters, "iters", 5, "timed steps per figure (after one warm-up step); 50 on cuda")
	c.Flags().StringVar(&device, "device", "cpu", "cpu, or cuda for the first NVIDIA GPU (gemm is then cuBLAS TF32 TFLOP/s; compare with scripts/torch_gpu_speed.py)")
	return c
}

func runBench(out *json.Encoder, model string, sizes []int, batch, iters int, want map[string]bool) error {
	threads := tensor.Threads()
	peak := 0.0
	if want["peak"] || want["gemm"] {
		t0 := time.Now()
		peak = tensor.PeakGFLOPS(threads)
		if want["peak"] {
			if err := out.Encode(benchFigure{What: "peak", Threads: threads, GFLOPS: round(peak), Seconds: since(t0)}); err != nil {
				return err
			}
		}
	}
	if want["gemm"] {
		// The shapes of a channels-last 3x3 convolution as a GEMM at batch
		// 128: [N*H*W, 9*Cin] x [9*Cin, Cout], for ResNet-18's first and last
		// stages at 28 px, plus a square one.
		for _, s := range [][3]int{{100352, 576, 64}, {2048, 4608, 512}, {1024, 1024, 1024}} {
			g := benchGemm(s[0], s[2], s[1], iters)
			f := benchFigure{What: "gemm", Threads: threads, GFLOPS: round(g), PeakFrac: round(g / peak),
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
			f, err := benchModel(model, size, batch, iters, phase == "train")
			if err != nil {
				return err
			}
			f.Threads = threads
			if err := out.Encode(f); err != nil {
				return err
			}
		}
	}
	return nil
}

// benchGemm returns the GFLOP/s of C[m,n] = A[m,k] x B[n,k]ᵀ.
func benchGemm(m, n, k, iters int) float64 {
	rng := rand.New(rand.NewPCG(1, 1))
	a := tensor.Randn(rng, 1, m, k).Data
	b := tensor.Randn(rng, 1, n, k).Data
	c := make([]float32, m*n)
	tensor.Gemm(false, true, m, n, k, 1, a, k, b, k, 0, c, n)
	t0 := time.Now()
	for i := 0; i < iters; i++ {
		tensor.Gemm(false, true, m, n, k, 1, a, k, b, k, 0, c, n)
	}
	return 2 * float64(m) * float64(n) * float64(k) * float64(iters) / time.Since(t0).Seconds() / 1e9
}

// benchModel times training steps or inference passes on random data, as
// the PyTorch reference does.
func benchModel(name string, size, batch, iters int, train bool) (benchFigure, error) {
	resetPeakRSS()
	rng := rand.New(rand.NewPCG(1, 2))
	m, err := models.New(name, rng, models.Spec{Classes: 8, Size: size})
	if err != nil {
		return benchFigure{}, err
	}
	opt, err := optim.NewAdam(m, optim.AdamConfig{LR: 1e-3})
	if err != nil {
		return benchFigure{}, err
	}
	x := tensor.Randn(rng, 1, batch, size, size, 3)
	y := make([]int, batch)
	for i := range y {
		y[i] = rng.IntN(8)
	}
	var ce nn.CrossEntropy
	step := func() {
		if train {
			opt.ZeroGrad()
			ce.Forward(m.Forward(x), y)
			m.Backward(ce.Backward())
			opt.Step()
		} else {
			m.Forward(x)
		}
	}
	nn.SetTraining(m, train)
	step() // warm-up: buffers settle
	t0 := time.Now()
	for i := 0; i < iters; i++ {
		step()
	}
	dt := time.Since(t0).Seconds()
	what := "infer"
	if train {
		what = "train"
	}
	runtime.KeepAlive(m)
	return benchFigure{What: what, Model: name, Size: size, Batch: batch,
		ImgPerS: round(float64(batch*iters) / dt), PeakRSS: peakRSS(), Seconds: round(dt)}, nil
}

// resetPeakRSS returns freed memory to the system and restarts the
// kernel's peak-RSS count (VmHWM), so that each figure's peak_rss_mib is
// its own and not an earlier model's. Without /proc it does nothing.
func resetPeakRSS() {
	runtime.GC()
	debug.FreeOSMemory()
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
}

// peakRSS returns the process's peak resident memory in MiB (VmHWM), or 0
// where /proc is not available.
func peakRSS() float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	b, _ := io.ReadAll(f)
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(strings.TrimPrefix(line, "VmHWM:")), " kB"), 64)
			return round(kb / 1024)
		}
	}
	return 0
}

func round(v float64) float64 { return float64(int64(v*1000+0.5)) / 1000 }

func since(t time.Time) float64 { return round(time.Since(t).Seconds()) }
