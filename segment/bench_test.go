package segment

import (
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/deepscope/deepscope/nn"
)

// BenchmarkInstances turns ideal probabilities of 150 touching discs on a
// 512x512 image into objects.
func BenchmarkInstances(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	truth := paint(512, 512, randomDiscs(rng, 512, 512, 150, 5, 12, -1))
	probs := probsFrom(truth)
	b.ResetTimer()
	for range b.N {
		Instances(probs, 512, 512, InstanceConfig{})
	}
	b.ReportMetric(float64(512*512*b.N)/b.Elapsed().Seconds()/1e6, "Mpx/s")
}

// BenchmarkStarInstances is BenchmarkInstances for a star-convex head of
// 32 rays: ideal object probabilities and distances, default thresholds.
func BenchmarkStarInstances(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	truth := paint(512, 512, randomDiscs(rng, 512, 512, 150, 5, 12, -1))
	maps := starMaps(truth, 32)
	b.ResetTimer()
	for range b.N {
		Instances(maps, 512, 512, InstanceConfig{Rays: 32})
	}
	b.ReportMetric(float64(512*512*b.N)/b.Elapsed().Seconds()/1e6, "Mpx/s")
}

// BenchmarkTrainStep is one step of the default configuration: a batch of
// 8 crops of 128 px through a U-Net of base 16 and depth 4.
func BenchmarkTrainStep(b *testing.B) {
	data := writeDataset(b, b.TempDir(), 10, 160, 3)
	cfg := Config{Data: data, Holdout: 0.1}
	tr, st, err := startTraining(cfg, Options{Out: filepath.Join(b.TempDir(), "run")})
	if err != nil {
		b.Fatal(err)
	}
	idx := []int{0, 1, 2, 3, 4, 5, 6, 0}
	nn.SetTraining(tr.model.Net, true)
	tr.step(idx, st) // settle the buffers
	b.ResetTimer()
	for range b.N {
		tr.step(idx, st)
	}
	b.ReportMetric(float64(8*b.N)/b.Elapsed().Seconds(), "crops/s")
}

// BenchmarkSegment is inference on a 512x512 image with the default
// windows (256 px, overlap 64: nine windows) and an untrained default
// network.
func BenchmarkSegment(b *testing.B) {
	m := NewModel(rand.New(rand.NewPCG(1, 1)), Config{}.WithDefaults())
	nn.SetTraining(m.Net, false)
	plane := make([]float32, 512*512)
	for i := range plane {
		plane[i] = float32(i%97) / 97
	}
	b.ResetTimer()
	for range b.N {
		Segment(plane, 512, 512, m.Probs, m.Tile, m.Instance)
	}
	b.ReportMetric(float64(512*512*b.N)/b.Elapsed().Seconds()/1e6, "Mpx/s")
}
