package privacy

import (
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"github.com/deepscope/deepscope/models"
	"github.com/deepscope/deepscope/nn"
	"github.com/deepscope/deepscope/optim"
	"github.com/deepscope/deepscope/tensor"
)

// BenchmarkTrainStep times one training step of CellNet at 28 px on a
// batch of 64 with AdamW: plain training (batch norm, as deepscope trains
// without DP), the same with group norm (what DP swaps in), and a DP-SGD
// step (group norm, per-sample norms, two backward passes, noise). Run
// with one thread for a figure that other work on the machine disturbs
// least:
//
//	go test ./privacy -run - -bench TrainStep -benchtime 20x -cpu 1
func BenchmarkTrainStep(b *testing.B) {
	old := tensor.Threads()
	defer tensor.SetThreads(old)
	tensor.SetThreads(runtime.GOMAXPROCS(0)) // -cpu 1: one thread
	for _, c := range stepKinds {
		b.Run(c.name, func(b *testing.B) {
			step := newTrainStep(b, c.norm, c.dp)
			for b.Loop() {
				step()
			}
			b.ReportMetric(float64(benchBatch*b.N)/b.Elapsed().Seconds(), "img/s")
		})
	}
}

// BenchmarkDPSlowdown alternates a plain step (batch norm) and a DP-SGD
// step, so both see the same load on a shared machine, and reports the
// DP step's time over the plain one's:
//
//	go test ./privacy -run - -bench DPSlowdown -benchtime 20x -cpu 1
func BenchmarkDPSlowdown(b *testing.B) {
	old := tensor.Threads()
	defer tensor.SetThreads(old)
	tensor.SetThreads(runtime.GOMAXPROCS(0))
	plain := newTrainStep(b, "", false)
	dp := newTrainStep(b, "group", true)
	var tp, td time.Duration
	for b.Loop() {
		t0 := time.Now()
		plain()
		t1 := time.Now()
		dp()
		tp, td = tp+t1.Sub(t0), td+time.Since(t1)
	}
	b.ReportMetric(float64(tp.Milliseconds())/float64(b.N), "plain-ms/step")
	b.ReportMetric(float64(td.Milliseconds())/float64(b.N), "dp-ms/step")
	b.ReportMetric(float64(td)/float64(tp), "slowdown")
}

const benchBatch, benchSize, benchClasses = 64, 28, 8

var stepKinds = []struct {
	name string
	norm string
	dp   bool
}{{"plain-batchnorm", "", false}, {"plain-groupnorm", "group", false}, {"dp", "group", true}}

// newTrainStep returns one training step of CellNet at 28 px on a batch
// of 64 with AdamW, after running it once: plain, or DP-SGD with
// per-sample clipping and noise.
func newTrainStep(b *testing.B, norm string, dp bool) func() {
	rng := rand.New(rand.NewPCG(1, 1))
	m, err := models.New("cellnet", rng, models.Spec{Classes: benchClasses, Size: benchSize, Norm: norm})
	if err != nil {
		b.Fatal(err)
	}
	opt, err := optim.NewAdamW(m, optim.AdamConfig{LR: 1e-3, WeightDecay: 0.05, SkipNoDecay: true})
	if err != nil {
		b.Fatal(err)
	}
	var clip *Clipper
	if dp {
		if clip, err = NewClipper(m, 1); err != nil {
			b.Fatal(err)
		}
	}
	x := tensor.Randn(rng, 1, benchBatch, benchSize, benchSize, 3)
	labels := make([]int, benchBatch)
	for i := range labels {
		labels[i] = rng.IntN(benchClasses)
	}
	ce := nn.CrossEntropy{LabelSmoothing: 0.1}
	noise := SecureRand()
	params := nn.Params(m)
	step := func() {
		opt.ZeroGrad()
		ce.Forward(m.Forward(x), labels)
		g := ce.Backward()
		if clip == nil {
			m.Backward(g)
		} else {
			for i := range g.Data {
				g.Data[i] *= benchBatch
			}
			clip.Backward(g)
			AddNoise(params, 1, 1.0/benchBatch, noise)
		}
		opt.Step()
	}
	step()
	return step
}
