package data

import (
	"fmt"
	"os"
	"testing"
	"time"
)

// pbcDir is the PBC blood-cell set (17,092 64x64 JPEGs with split.csv), read
// only by benchmarks.
const pbcDir = "../../shared/data/pbc"

// BenchmarkLoaderPBC measures the loader's own throughput on PBC with 2
// workers: the first epoch (read, JPEG decode, crop, resize, cache fill)
// and a cached epoch, at BloodMNIST's 28-pixel protocol (centre 200/360,
// resize to 28) and at the full 64 px.
//
//	go test -run '^$' -bench LoaderPBC -benchtime 3x ./data/
func BenchmarkLoaderPBC(b *testing.B) {
	if _, err := os.Stat(pbcDir + "/split.csv"); err != nil {
		b.Skipf("PBC data not found at %s: %v", pbcDir, err)
	}
	ds, err := Open(pbcDir)
	if err != nil {
		b.Fatal(err)
	}
	for _, size := range []struct {
		px   int
		crop float64
	}{{28, 200.0 / 360}, {64, 1}} {
		cfg := LoaderConfig{BatchSize: 128, Shuffle: true, Seed: 1, Workers: 2, Cache: true,
			Preprocess: Preprocess{Size: size.px, Crop: size.crop},
			Normalize:  Normalize{Mean: []float32{0.5, 0.5, 0.5}, Std: []float32{0.25, 0.25, 0.25}}}
		epoch := func(b *testing.B, l *Loader, e int) {
			for _, err := range l.Epoch(e, 0) {
				if err != nil {
					b.Fatal(err)
				}
			}
		}
		b.Run(fmt.Sprintf("%dpx/decode", size.px), func(b *testing.B) {
			var elapsed time.Duration
			for b.Loop() {
				l, err := NewLoader(ds, cfg)
				if err != nil {
					b.Fatal(err)
				}
				t0 := time.Now()
				epoch(b, l, 0)
				elapsed += time.Since(t0)
			}
			b.ReportMetric(float64(ds.Len()*b.N)/elapsed.Seconds(), "images/s")
		})
		b.Run(fmt.Sprintf("%dpx/cached", size.px), func(b *testing.B) {
			l, err := NewLoader(ds, cfg)
			if err != nil {
				b.Fatal(err)
			}
			epoch(b, l, 0)
			b.ReportMetric(float64(l.CacheBytes())/1e6, "cacheMB")
			e := 1
			b.ResetTimer()
			t0 := time.Now()
			for b.Loop() {
				epoch(b, l, e)
				e++
			}
			b.ReportMetric(float64(ds.Len()*b.N)/time.Since(t0).Seconds(), "images/s")
		})
	}
}
