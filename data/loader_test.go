package data

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/deepscope/deepscope/tensor"
)

// batchCopy is what a test keeps of a Batch (the Loader reuses its memory).
type batchCopy struct {
	x       []float32
	shape   []int
	labels  []int
	indices []int
	targets []float32
}

func collect(t *testing.T, l *Loader, epoch, start int) []batchCopy {
	t.Helper()
	var out []batchCopy
	for b, err := range l.Epoch(epoch, start) {
		if err != nil {
			t.Fatal(err)
		}
		c := batchCopy{x: slices.Clone(b.X.Values()), shape: slices.Clone(b.X.Shape),
			labels: slices.Clone(b.Labels), indices: slices.Clone(b.Indices)}
		if b.Targets != nil {
			c.targets = slices.Clone(b.Targets.Values())
		}
		out = append(out, c)
	}
	return out
}

// noise is a Transform that draws from rng, so replay errors show.
var noise = TransformFunc(func(img *tensor.Tensor, rng *rand.Rand) *tensor.Tensor {
	v := img.Values()
	for i := range v {
		v[i] += 0.01 * rng.Float32()
	}
	return img
})

func TestLoaderDeterministicAcrossWorkersAndResume(t *testing.T) {
	dir := makeFolder(t, []string{"a", "b", "c"}, 9, 12)
	ds, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	base := LoaderConfig{BatchSize: 5, Shuffle: true, Seed: 7, Transform: noise, Preprocess: Preprocess{Size: 8, Crop: 0.8}}
	run := func(workers, prefetch int, cache bool, epoch, start int) []batchCopy {
		cfg := base
		cfg.Workers, cfg.Prefetch, cfg.Cache = workers, prefetch, cache
		l, err := NewLoader(ds, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if cache { // warm the cache with another epoch first
			collect(t, l, epoch+1, 0)
		}
		return collect(t, l, epoch, start)
	}
	want := run(1, 1, false, 2, 0)
	if len(want) != 6 || len(want[5].indices) != 2 || !equalInts(want[0].shape, []int{5, 8, 8, 3}) {
		t.Fatalf("%d batches, last of %d, shape %v", len(want), len(want[5].indices), want[0].shape)
	}
	for _, tc := range []struct {
		name              string
		workers, prefetch int
		cache             bool
	}{{"3 workers", 3, 0, false}, {"2 workers cached", 2, 1, true}, {"4 workers prefetch 8", 4, 8, false}} {
		if got := run(tc.workers, tc.prefetch, tc.cache, 2, 0); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: batches differ from 1 worker", tc.name)
		}
	}
	if got := run(2, 0, false, 2, 4); !reflect.DeepEqual(got, want[4:]) {
		t.Error("resumed at batch 4: batches differ from an uninterrupted epoch")
	}
	other := run(2, 0, false, 3, 0)
	if reflect.DeepEqual(other[0].indices, want[0].indices) {
		t.Error("epochs 2 and 3 have the same order")
	}
	// Each epoch visits every item once, with its label.
	var seen []int
	for _, b := range want {
		for j, idx := range b.indices {
			if b.labels[j] != ds.Items[idx].Label {
				t.Fatalf("item %d: label %d, want %d", idx, b.labels[j], ds.Items[idx].Label)
			}
		}
		seen = append(seen, b.indices...)
	}
	slices.Sort(seen)
	for i, v := range seen {
		if v != i {
			t.Fatalf("epoch visits %v", seen)
		}
	}
}

func TestLoaderCacheAndNormalize(t *testing.T) {
	dir := makeFolder(t, []string{"x", "y"}, 4, 6)
	ds, _ := Open(dir)
	l, err := NewLoader(ds, LoaderConfig{BatchSize: 3, Cache: true, Workers: 2,
		Normalize: Normalize{Mean: []float32{0.5, 0.5, 0.5}, Std: []float32{0.25, 0.5, 1}}})
	if err != nil {
		t.Fatal(err)
	}
	first := collect(t, l, 0, 0)
	// An identity Transform takes the float path; it must agree with the
	// table lookup used without a Transform.
	ident, _ := NewLoader(ds, LoaderConfig{BatchSize: 3, Normalize: l.cfg.Normalize,
		Transform: TransformFunc(func(img *tensor.Tensor, _ *rand.Rand) *tensor.Tensor { return img })})
	if got := collect(t, ident, 0, 0); !reflect.DeepEqual(got, first) {
		t.Error("identity transform changes the batches")
	}
	if got, want := l.CacheBytes(), int64(8*6*6*3); got != want {
		t.Errorf("cache holds %d bytes, want %d", got, want)
	}
	// The images are gone; the cache must serve the second epoch alone.
	if err := os.RemoveAll(filepath.Join(dir, "x")); err != nil {
		t.Fatal(err)
	}
	if second := collect(t, l, 0, 0); !reflect.DeepEqual(second, first) {
		t.Error("cached epoch differs from the first")
	}
	// Normalisation, against the same batches without it.
	raw, _ := NewLoader(ds, LoaderConfig{BatchSize: 3, Cache: true})
	raw.cache = l.cache // the files are gone; borrow the cache
	plain := collect(t, raw, 0, 0)
	for i := range plain[0].x {
		ch := i % 3
		want := (plain[0].x[i] - 0.5) / []float32{0.25, 0.5, 1}[ch]
		if math.Abs(float64(first[0].x[i]-want)) > 1e-5 {
			t.Fatalf("element %d: %g, want %g", i, first[0].x[i], want)
		}
	}
}

func TestLoaderBadImages(t *testing.T) {
	dir := makeFolder(t, []string{"a"}, 6, 4)
	bad := filepath.Join(dir, "a", "img002.png")
	b, _ := os.ReadFile(bad)
	os.WriteFile(bad, b[:len(b)/2], 0o644)
	ds, _ := Open(dir)
	l, _ := NewLoader(ds, LoaderConfig{BatchSize: 4, Workers: 2})
	var gotErr error
	for _, err := range l.Epoch(0, 0) {
		if err != nil {
			gotErr = err
			break
		}
	}
	if gotErr == nil || !strings.Contains(gotErr.Error(), "img002.png") || !strings.Contains(gotErr.Error(), "truncated") {
		t.Errorf("error %v, want one naming the truncated file", gotErr)
	}
	for _, cache := range []bool{false, true} {
		l, _ = NewLoader(ds, LoaderConfig{BatchSize: 4, Workers: 2, OnBad: OnBadSkip, Cache: cache})
		for range 2 {
			got := collect(t, l, 0, 0)
			if len(got) != 2 || len(got[0].indices) != 3 || got[0].shape[0] != 3 || len(got[1].indices) != 2 {
				t.Fatalf("cache %v: batches %d, sizes %d and %d", cache, len(got), len(got[0].indices), len(got[1].indices))
			}
		}
		if s := l.Skipped(); len(s) != 1 || s[0].Path != bad {
			t.Errorf("skipped %v", s)
		}
	}
}

func TestLoaderEarlyStopAndDropLast(t *testing.T) {
	dir := makeFolder(t, []string{"a", "b"}, 5, 4)
	ds, _ := Open(dir)
	l, _ := NewLoader(ds, LoaderConfig{BatchSize: 4, DropLast: true, Workers: 3, Prefetch: 2})
	if l.NumBatches() != 2 {
		t.Errorf("NumBatches %d, want 2", l.NumBatches())
	}
	for range 3 { // leaving the loop must stop the workers and let the next epoch run
		for b, err := range l.Epoch(0, 0) {
			if err != nil || b.Index != 0 {
				t.Fatal(b.Index, err)
			}
			break
		}
	}
	if got := collect(t, l, 1, 0); len(got) != 2 {
		t.Errorf("%d batches with DropLast, want 2", len(got))
	}
	if got := collect(t, l, 1, 5); len(got) != 0 {
		t.Errorf("start past the end gave %d batches", len(got))
	}
}

func TestLoaderMultiLabelArrays(t *testing.T) {
	p := filepath.Join(t.TempDir(), "chestmnist.npz")
	writeNPZ(t, p, tinyMedMNIST(5, 4, 4, 1, 14))
	ds, err := OpenNPZ(p, "train")
	if err != nil {
		t.Fatal(err)
	}
	l, _ := NewLoader(ds, LoaderConfig{BatchSize: 2, Workers: 2, Preprocess: Preprocess{Channels: 3}})
	got := collect(t, l, 0, 0)
	if len(got) != 3 || !equalInts(got[0].shape, []int{2, 4, 4, 3}) {
		t.Fatalf("%d batches, shape %v", len(got), got[0].shape)
	}
	for j, idx := range got[2].indices {
		if !reflect.DeepEqual(got[2].targets[j*14:(j+1)*14], ds.Items[idx].Labels) {
			t.Errorf("targets of item %d differ", idx)
		}
	}
	img, _ := ds.Image(0)
	if got[0].x[0] != img.Data[0] || got[0].x[2] != img.Data[0] {
		t.Errorf("grey replicated to RGB: %v vs %v", got[0].x[:3], img.Data[0])
	}
}

func TestLoaderErrors(t *testing.T) {
	dir := makeFolder(t, []string{"a"}, 2, 4)
	writeFile(t, dir, "a/big.png", encode(t, testImage(6, 6, 1), "png"))
	ds, _ := Open(dir)
	l, _ := NewLoader(ds, LoaderConfig{BatchSize: 3, Workers: 1})
	for _, err := range l.Epoch(0, 0) {
		if err == nil || !strings.Contains(err.Error(), "after preprocessing") {
			t.Errorf("mixed sizes: %v", err)
		}
	}
	for _, cfg := range []LoaderConfig{
		{BatchSize: -1},
		{OnBad: "ignore"},
		{Normalize: Normalize{Mean: []float32{0}}},
		{Normalize: Normalize{Mean: []float32{0}, Std: []float32{0}}},
		{Preprocess: Preprocess{Crop: 2}},
	} {
		if _, err := NewLoader(ds, cfg); err == nil {
			t.Errorf("config %+v accepted", cfg)
		}
	}
}
