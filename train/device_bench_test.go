package train

import (
	"os"
	"testing"
	"time"

	"github.com/deepscope/deepscope/data"
)

// BenchmarkTrainLoaderPBC measures the training data pipeline alone, as a
// run builds it (decoded images cached, augmentation per epoch, one worker
// per core), on PBC at 64 px: the rate a GPU step can be fed at. The data
// folder is $DEEPSCOPE_PBC or ../../shared/data/pbc.
//
//	go test -run '^$' -bench TrainLoaderPBC -benchtime 3x ./train/
func BenchmarkTrainLoaderPBC(b *testing.B) {
	dir := os.Getenv("DEEPSCOPE_PBC")
	if dir == "" {
		dir = "../../shared/data/pbc"
	}
	if _, err := os.Stat(dir + "/split.csv"); err != nil {
		b.Skipf("PBC data not found at %s: %v", dir, err)
	}
	ds, err := data.Open(dir)
	if err != nil {
		b.Fatal(err)
	}
	ds = ds.Subset("train")
	for _, aug := range []string{"none", "standard"} {
		b.Run(aug, func(b *testing.B) {
			cfg := data.LoaderConfig{BatchSize: 128, Shuffle: true, Seed: 1, Cache: true, DropLast: true,
				Preprocess: data.Preprocess{Size: 64, Crop: 1}, Transform: Augmentation(aug, 64),
				Normalize: data.Normalize{Mean: []float32{0.5, 0.5, 0.5}, Std: []float32{0.25, 0.25, 0.25}}}
			l, err := data.NewLoader(ds, cfg)
			if err != nil {
				b.Fatal(err)
			}
			images := func(e int) int {
				n := 0
				for bt, err := range l.Epoch(e, 0) {
					if err != nil {
						b.Fatal(err)
					}
					n += len(bt.Labels)
				}
				return n
			}
			t0 := time.Now()
			n := images(0)
			b.Logf("%s: first epoch (decode and cache) %.0f images/s", aug, float64(n)/time.Since(t0).Seconds())
			b.ResetTimer()
			t0, n = time.Now(), 0
			e := 1
			for b.Loop() {
				n += images(e)
				e++
			}
			b.ReportMetric(float64(n)/time.Since(t0).Seconds(), "images/s")
		})
	}
}
