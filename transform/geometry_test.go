package transform

import (
	"math"
	"testing"

	"github.com/deepscope/deepscope/tensor"
)

func TestFlipTwiceIsIdentity(t *testing.T) {
	for _, c := range []int{1, 3} {
		img := randImage(10, 7, 9, c)
		for _, f := range []Transform{HorizontalFlip{P: 1}, VerticalFlip{P: 1}} {
			once := f.Apply(img, newRNG(1))
			if maxDiff(once, img) == 0 {
				t.Errorf("%v (c=%d) left the image unchanged", f, c)
			}
			if d := maxDiff(f.Apply(once, newRNG(1)), img); d != 0 {
				t.Errorf("%v twice (c=%d) differs from the input by %g", f, c, d)
			}
		}
	}
}

func TestFlipPixels(t *testing.T) {
	img := tensor.FromSlice([]float32{1, 2, 3, 4, 5, 6}, 2, 3, 1)
	tests := []struct {
		tr   Transform
		want []float32
	}{
		{HorizontalFlip{P: 1}, []float32{3, 2, 1, 6, 5, 4}},
		{VerticalFlip{P: 1}, []float32{4, 5, 6, 1, 2, 3}},
		{HorizontalFlip{P: 0}, []float32{1, 2, 3, 4, 5, 6}},
	}
	for _, tc := range tests {
		got := tc.tr.Apply(img, newRNG(1)).Values()
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("%v: got %v, want %v", tc.tr, got, tc.want)
				break
			}
		}
	}
}

func TestRot90(t *testing.T) {
	img := tensor.FromSlice([]float32{1, 2, 3, 4, 5, 6}, 2, 3, 1)
	// 1 2 3      3 6
	// 4 5 6  ->  2 5   (a quarter turn counter-clockwise)
	//            1 4
	got := Rot90(img, 1)
	want := []float32{3, 6, 2, 5, 1, 4}
	if got.Shape[0] != 3 || got.Shape[1] != 2 {
		t.Fatalf("shape %v, want [3 2 1]", got.Shape)
	}
	for i, v := range got.Values() {
		if v != want[i] {
			t.Fatalf("Rot90 = %v, want %v", got.Values(), want)
		}
	}
	for _, k := range []int{1, 2, 3, -1} {
		x := randImage(11, 5, 8, 3)
		y := x
		for range 4 {
			y = Rot90(y, k)
		}
		if d := maxDiff(x, y); d != 0 {
			t.Errorf("four turns of %d quarters differ from the input by %g", k, d)
		}
	}
	if d := maxDiff(Rot90(Rot90(img, 1), 1), Rot90(img, 2)); d != 0 {
		t.Errorf("two single turns differ from one double turn by %g", d)
	}
}

func TestRotate90Random(t *testing.T) {
	// Each output is one of the four quarter turns, and all four occur.
	img := randImage(12, 6, 6, 3)
	rng := newRNG(13)
	seen := map[int]bool{}
	for range 40 {
		x := Rotate90{}.Apply(img, rng)
		k := -1
		for q := range 4 {
			if maxDiff(x, Rot90(img, q)) == 0 {
				k = q
			}
		}
		if k < 0 {
			t.Fatal("Rotate90 output is not a quarter turn of the input")
		}
		seen[k] = true
	}
	if len(seen) != 4 {
		t.Errorf("saw turns %v in 40 draws, want all four", seen)
	}
}

func TestRotateBy(t *testing.T) {
	img := randImage(14, 9, 9, 3)
	if d := maxDiff(RotateBy(img, 0, FillReflect), img); d > 1e-6 {
		t.Errorf("rotation by 0 differs by %g", d)
	}
	if d := maxDiff(RotateBy(img, 90, FillReflect), Rot90(img, 1)); d > 1e-5 {
		t.Errorf("rotation by 90 differs from Rot90 by %g", d)
	}
	if d := maxDiff(RotateBy(img, -180, FillReflect), Rot90(img, 2)); d > 1e-5 {
		t.Errorf("rotation by -180 differs from two quarter turns by %g", d)
	}
	// A constant image stays constant whatever the angle and fill.
	c := tensor.Full(0.4, 12, 10, 3)
	for _, f := range []Fill{FillReflect, FillBorderMean} {
		if d := maxDiff(RotateBy(c, 33, f), c); d > 1e-6 {
			t.Errorf("rotating a constant image (fill %v) changed it by %g", f, d)
		}
	}
	// Border-mean fill paints the corners of a 45-degree turn with the
	// border colour.
	b := tensor.Full(0.2, 16, 16, 3)
	for y := 4; y < 12; y++ {
		for x := 4; x < 12; x++ {
			for k := range 3 {
				b.Set(1, y, x, k)
			}
		}
	}
	r := RotateBy(b, 45, FillBorderMean)
	if v := r.At(0, 0, 0); math.Abs(float64(v)-0.2) > 1e-5 {
		t.Errorf("corner after 45° with border-mean fill = %g, want 0.2", v)
	}
}

func TestReflect(t *testing.T) {
	tests := []struct{ i, n, want int }{
		{-1, 4, 0}, {-2, 4, 1}, {4, 4, 3}, {5, 4, 2}, {9, 4, 1}, {-9, 4, 0}, {3, 1, 0}, {2, 4, 2},
	}
	for _, tc := range tests {
		if got := reflect(tc.i, tc.n); got != tc.want {
			t.Errorf("reflect(%d, %d) = %d, want %d", tc.i, tc.n, got, tc.want)
		}
	}
}
