package data

import (
	"math/rand/v2"
	"sync/atomic"
	"testing"

	"github.com/deepscope/deepscope/tensor"
)

// TestPreprocessPrepare: Preprocess.Prepare runs on every decoded image
// before the resize, once per image when the loader caches, and Apply
// gives what the loader gives.
func TestPreprocessPrepare(t *testing.T) {
	dir := makeFolder(t, []string{"a", "b"}, 3, 20)
	ds, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int32
	// Darken the left half: the resize cannot undo it, so the batch shows
	// whether Prepare ran first.
	prep := TransformFunc(func(img *tensor.Tensor, rng *rand.Rand) *tensor.Tensor {
		if rng != nil {
			t.Error("Prepare got an rng")
		}
		calls.Add(1)
		out := img.Clone()
		h, w, c := out.Dim(0), out.Dim(1), out.Dim(2)
		for y := range h {
			for x := range w / 2 {
				for k := range c {
					out.Data[(y*w+x)*c+k] = 0
				}
			}
		}
		return out
	})
	pre := Preprocess{Size: 10, Prepare: prep}
	if pre.Identity() {
		t.Error("a Preprocess with Prepare claims to be the identity")
	}
	l, err := NewLoader(ds, LoaderConfig{BatchSize: 6, Preprocess: pre, Cache: true, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	for e := range 2 {
		for b, err := range l.Epoch(e, 0) {
			if err != nil {
				t.Fatal(err)
			}
			for i, idx := range b.Indices {
				img, err := ds.Image(idx)
				if err != nil {
					t.Fatal(err)
				}
				want := pre.Apply(img)
				got := b.X.Values()[i*300 : (i+1)*300]
				for j, v := range want.Data {
					if d := got[j] - v; d > 1.0/255 || d < -1.0/255 {
						t.Fatalf("epoch %d image %d: loader and Apply differ at %d: %v vs %v", e, idx, j, got[j], v)
					}
				}
				if got[0] != 0 || got[3*9] == 0 && want.Data[3*9] != 0 {
					t.Errorf("image %d: the left half is not dark (Prepare did not run first)", idx)
				}
			}
		}
	}
	// 6 images through the loader, cached after the first epoch, and 12
	// calls from the comparisons above.
	if n := calls.Load(); n != 6+12 {
		t.Errorf("Prepare ran %d times, want 18", n)
	}
}
