package transform

import (
	"testing"

	"github.com/deepscope/deepscope/tensor"
)

// trainPipeline is a typical training-time augmentation at 64 px.
func trainPipeline() Transform {
	return Compose(
		RandomResizedCrop{H: 64, W: 64, Scale: [2]float64{0.6, 1}},
		HorizontalFlip{P: 0.5},
		VerticalFlip{P: 0.5},
		Rotate90{},
		RandomApply(0.5, Rotate{MaxDegrees: 45}),
		ColorJitter{Brightness: 0.2, Contrast: 0.2, Saturation: 0.2, Hue: 0.02},
		HEDJitter{Theta: 0.05},
		RandomApply(0.3, GaussianBlur{Sigma: [2]float64{0.1, 1}}),
		Normalize{Mean: []float32{0.8, 0.7, 0.7}, Std: []float32{0.15, 0.2, 0.1}},
	)
}

func benchTransform(b *testing.B, tr Transform, size int) {
	img := randImage(1, size, size, 3)
	rng := newRNG(2)
	b.ReportAllocs()
	for b.Loop() {
		tr.Apply(img, rng)
	}
}

func BenchmarkPipeline64(b *testing.B) { benchTransform(b, trainPipeline(), 64) }

func BenchmarkResize360To64(b *testing.B) {
	img := randImage(1, 360, 360, 3)
	b.ReportAllocs()
	for b.Loop() {
		ResizeTo(img, 64, 64)
	}
}

func BenchmarkRandomResizedCrop64(b *testing.B) {
	benchTransform(b, RandomResizedCrop{H: 64, W: 64, Scale: [2]float64{0.6, 1}}, 64)
}
func BenchmarkRotate64(b *testing.B)      { benchTransform(b, Rotate{MaxDegrees: 180}, 64) }
func BenchmarkColorJitter64(b *testing.B) { benchTransform(b, ColorJitter{0.2, 0.2, 0.2, 0.02}, 64) }
func BenchmarkHEDJitter64(b *testing.B)   { benchTransform(b, HEDJitter{Theta: 0.05}, 64) }
func BenchmarkBlur64(b *testing.B)        { benchTransform(b, GaussianBlur{Sigma: [2]float64{1, 1}}, 64) }

func BenchmarkMacenko64(b *testing.B) {
	he := [2]vec3{unitVec(vec3{0.5626, 0.7201, 0.4062}), unitVec(vec3{0.2159, 0.8012, 0.5581})}
	var m Macenko
	if err := m.Fit([]*tensor.Tensor{stained(tissue(1, 64*64), he, 240.0/255, 64, 64)}); err != nil {
		b.Fatal(err)
	}
	benchTransform(b, &m, 64)
}

func BenchmarkReinhard64(b *testing.B) {
	var r Reinhard
	if err := r.Fit([]*tensor.Tensor{randImage(3, 64, 64, 3)}); err != nil {
		b.Fatal(err)
	}
	benchTransform(b, &r, 64)
}
