package data

import (
	"image"
	"math"
	"testing"

	"golang.org/x/image/draw"

	"github.com/deepscope/deepscope/tensor"
)

func TestPreprocessIdentityAndCrop(t *testing.T) {
	img := imageToTensor(testImage(8, 8, 2))
	if got := (Preprocess{}).Apply(img); got != img {
		t.Error("zero Preprocess should return its input")
	}
	if got := (Preprocess{Size: 8, Crop: 1}).Apply(img); got != img {
		t.Error("Size equal to the image and whole crop should return its input")
	}
	// Crop 0.5 of 8 px keeps the box [2, 6) exactly.
	got := (Preprocess{Crop: 0.5}).Apply(img)
	if !equalInts(got.Shape, []int{4, 4, 3}) {
		t.Fatalf("shape %v", got.Shape)
	}
	for y := 0; y < 4; y++ {
		for x := 0; x < 4; x++ {
			for c := 0; c < 3; c++ {
				if d := got.At(y, x, c) - img.At(y+2, x+2, c); math.Abs(float64(d)) > 1e-5 {
					t.Fatalf("(%d,%d,%d): %g vs %g", y, x, c, got.At(y, x, c), img.At(y+2, x+2, c))
				}
			}
		}
	}
	// A non-square image is cropped to a centre square of the shorter side.
	wide := tensor.New(6, 10, 1)
	if got := (Preprocess{Crop: 0.5}).Apply(wide); !equalInts(got.Shape, []int{3, 3, 1}) {
		t.Errorf("non-square crop shape %v, want [3 3 1]", got.Shape)
	}
}

func TestResizeKeepsConstantsAndAntialiases(t *testing.T) {
	flat := tensor.Full(0.3, 64, 64, 3)
	checker := tensor.New(64, 64, 1)
	for y := 0; y < 64; y++ {
		for x := 0; x < 64; x++ {
			checker.Set(float32((x+y)%2), y, x, 0)
		}
	}
	for _, tc := range []struct {
		name string
		img  *tensor.Tensor
		p    Preprocess
		lo   float32
		hi   float32
	}{
		{"flat down", flat, Preprocess{Size: 28}, 0.3 - 1e-5, 0.3 + 1e-5},
		{"flat up", flat, Preprocess{Size: 100}, 0.3 - 1e-5, 0.3 + 1e-5},
		{"flat crop", flat, Preprocess{Size: 28, Crop: 0.556}, 0.3 - 1e-5, 0.3 + 1e-5},
		// A 1-pixel checkerboard shrunk 4x must average to grey, not alias
		// to black or white as point sampling would.
		{"checker /4", checker, Preprocess{Size: 16}, 0.4, 0.6},
		{"checker crop", checker, Preprocess{Size: 7, Crop: 0.556}, 0.4, 0.6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.p.Apply(tc.img)
			if got.Shape[0] != tc.p.Size || got.Shape[1] != tc.p.Size || got.Shape[2] != tc.img.Shape[2] {
				t.Fatalf("shape %v", got.Shape)
			}
			for i, v := range got.Data {
				if v < tc.lo || v > tc.hi {
					t.Fatalf("element %d = %g, want in [%g, %g]", i, v, tc.lo, tc.hi)
				}
			}
		})
	}
}

// The resampler should agree with golang.org/x/image/draw's Catmull-Rom
// scaler (the same kernel, also widened when shrinking).
func TestResizeMatchesXImageDraw(t *testing.T) {
	src := testImage(64, 64, 7)
	for _, size := range []int{28, 40, 96} {
		dst := image.NewNRGBA(image.Rect(0, 0, size, size))
		draw.CatmullRom.Scale(dst, dst.Bounds(), src, src.Bounds(), draw.Src, nil)
		want := imageToTensor(dst)
		got := (Preprocess{Size: size}).Apply(imageToTensor(src))
		var sum float64
		for i := range got.Data {
			sum += math.Abs(float64(got.Data[i] - want.Data[i]))
		}
		if mean := sum / float64(len(got.Data)); mean > 1.0/255 {
			t.Errorf("size %d: mean abs difference from x/image/draw %.4f, want <= 1/255", size, mean)
		}
	}
}

func TestPreprocessChannels(t *testing.T) {
	rgb := imageToTensor(testImage(4, 4, 1))
	grey := (Preprocess{Channels: 1}).Apply(rgb)
	if grey.Shape[2] != 1 {
		t.Fatalf("shape %v", grey.Shape)
	}
	want := 0.299*rgb.At(1, 2, 0) + 0.587*rgb.At(1, 2, 1) + 0.114*rgb.At(1, 2, 2)
	if math.Abs(float64(grey.At(1, 2, 0)-want)) > 1e-6 {
		t.Errorf("luma %g, want %g", grey.At(1, 2, 0), want)
	}
	back := (Preprocess{Channels: 3}).Apply(grey)
	if back.Shape[2] != 3 || back.At(1, 2, 0) != back.At(1, 2, 2) || back.At(1, 2, 1) != grey.At(1, 2, 0) {
		t.Errorf("grey to RGB: %v", back.Shape)
	}
	for _, bad := range []Preprocess{{Size: -1}, {Crop: 1.5}, {Crop: math.NaN()}, {Channels: 2}} {
		if bad.Validate() == nil {
			t.Errorf("%+v validated", bad)
		}
	}
}

func BenchmarkPreprocess64to28(b *testing.B) {
	img := imageToTensor(testImage(64, 64, 1))
	p := Preprocess{Size: 28, Crop: 200.0 / 360}
	for b.Loop() {
		p.Apply(img)
	}
}
