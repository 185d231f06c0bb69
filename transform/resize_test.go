package transform

import (
	"math"
	"testing"

	"github.com/deepscope/deepscope/tensor"
)

var filters = []Filter{CatmullRom, Bilinear, Lanczos3}

func TestResizeConstantStaysConstant(t *testing.T) {
	img := tensor.Full(0.37, 23, 31, 3)
	for _, f := range filters {
		for _, sz := range [][2]int{{7, 5}, {23, 31}, {64, 50}, {11, 40}} {
			out := Resize{H: sz[0], W: sz[1], Filter: f}.Apply(img, nil)
			if out.Shape[0] != sz[0] || out.Shape[1] != sz[1] || out.Shape[2] != 3 {
				t.Fatalf("%v to %v: shape %v", f, sz, out.Shape)
			}
			for _, v := range out.Values() {
				if math.Abs(float64(v)-0.37) > 1e-5 {
					t.Fatalf("%v to %v: value %g in a constant 0.37 image", f, sz, v)
				}
			}
		}
	}
}

// TestResizeAntialias shrinks a one-pixel checkerboard: a resampler that
// only interpolates (no antialiasing) returns black and white samples; a
// correct one averages them to mid grey.
func TestResizeAntialias(t *testing.T) {
	const n = 64
	img := tensor.New(n, n, 1)
	for y := range n {
		for x := range n {
			if (x+y)%2 == 0 {
				img.Set(1, y, x, 0)
			}
		}
	}
	for _, f := range filters {
		for _, out := range []int{8, 13, 21, 32} {
			r := Resize{H: out, W: out, Filter: f}.Apply(img, nil)
			mean, sd := meanStd(r.Values())
			var worst float64
			for _, v := range r.Values() {
				worst = math.Max(worst, math.Abs(float64(v)-0.5))
			}
			// 64->32 is an exact factor of two, where a box-like average of
			// each pair is exactly 0.5; other factors leave a small beat.
			if math.Abs(mean-0.5) > 0.01 || worst > 0.08 {
				t.Errorf("%v 64->%d: mean %.3f, std %.3f, worst |v-0.5| %.3f; want ≈0.5 everywhere", f, out, mean, sd, worst)
			}
		}
	}
}

func TestResizeUpscaleKeepsSamples(t *testing.T) {
	// Upscaling a smooth ramp by an integer factor stays a ramp: monotonic
	// and within the input's range.
	img := tensor.New(1, 8, 1)
	for x := range 8 {
		img.Set(float32(x)/7, 0, x, 0)
	}
	out := Resize{H: 1, W: 32, Filter: Bilinear}.Apply(img, nil).Values()
	for i := 1; i < len(out); i++ {
		if out[i] < out[i-1]-1e-6 {
			t.Fatalf("upscaled ramp not monotonic at %d: %v", i, out)
		}
	}
	if out[0] < 0 || out[len(out)-1] > 1 {
		t.Fatalf("upscaled ramp out of range: %v", out)
	}
}

func TestCenterCrop(t *testing.T) {
	img := tensor.New(5, 6, 1)
	for i := range img.Data {
		img.Data[i] = float32(i)
	}
	got := CenterCrop{H: 3, W: 2}.Apply(img, nil)
	// rows 1..3, cols 2..3
	want := []float32{8, 9, 14, 15, 20, 21}
	for i, v := range got.Values() {
		if v != want[i] {
			t.Fatalf("CenterCrop = %v, want %v", got.Values(), want)
		}
	}
	pad := CenterCrop{H: 7, W: 6}.Apply(img, nil)
	if pad.At(0, 0, 0) != 0 || pad.At(1, 0, 0) != 0 || pad.At(6, 5, 0) != 0 || pad.At(5, 5, 0) != 29 {
		t.Fatalf("padding crop wrong: %v", pad.Values())
	}
}

func TestRandomResizedCropWindow(t *testing.T) {
	r := RandomResizedCrop{H: 16, W: 16, Scale: [2]float64{0.25, 0.5}, Ratio: [2]float64{0.5, 2}}
	rng := newRNG(20)
	for range 500 {
		top, left, h, w := r.window(40, 60, rng)
		if top < 0 || left < 0 || top+h > 40 || left+w > 60 || h <= 0 || w <= 0 {
			t.Fatalf("window (%d,%d,%d,%d) outside 40x60", top, left, h, w)
		}
		a := float64(h*w) / (40 * 60)
		if a < 0.2 || a > 0.56 {
			t.Fatalf("window area fraction %.3f outside scale [0.25, 0.5] (with rounding)", a)
		}
		ar := float64(w) / float64(h)
		if ar < 0.45 || ar > 2.2 {
			t.Fatalf("window ratio %.3f outside [0.5, 2]", ar)
		}
	}
	// Impossible requests fall back to a central crop.
	top, left, h, w := RandomResizedCrop{H: 8, W: 8, Scale: [2]float64{1, 1}, Ratio: [2]float64{4, 5}}.window(20, 20, rng)
	if w != 20 || h != 5 || left != 0 || top != 7 {
		t.Fatalf("fallback window (%d,%d,%d,%d), want (7,0,5,20)", top, left, h, w)
	}
	out := r.Apply(randImage(21, 40, 60, 3), rng)
	if out.Shape[0] != 16 || out.Shape[1] != 16 {
		t.Fatalf("output shape %v", out.Shape)
	}
}
