package explain

import (
	"math"
	"testing"

	"github.com/deepscope/deepscope/tensor"
)

func nanValue() float64 { return math.NaN() }

// TestOverlay checks the blend: a cold pixel keeps the image's colour, the
// hottest is tinted red-brown by turbo's top end, and the map is resized
// to the image.
func TestOverlay(t *testing.T) {
	img := tensor.Full(0.5, 8, 8, 3)
	heat := tensor.New(2, 2)
	heat.Data[3] = 4 // bottom-right hot; values are rescaled by the maximum
	heat.Data[0] = -1
	o := Overlay(img, heat)
	if b := o.Bounds(); b.Dx() != 8 || b.Dy() != 8 {
		t.Fatalf("overlay is %v, want 8x8", b)
	}
	r, g, b, _ := o.At(0, 0).RGBA()
	if r>>8 != 128 || g>>8 != 128 || b>>8 != 128 {
		t.Errorf("cold pixel %d %d %d, want the image's grey 128", r>>8, g>>8, b>>8)
	}
	r, g, b, _ = o.At(7, 7).RGBA()
	if !(r > g && r > b) {
		t.Errorf("hot pixel %d %d %d, want red to dominate", r>>8, g>>8, b>>8)
	}
	grey := Overlay(tensor.Full(0.2, 4, 4, 1), tensor.New(4, 4))
	if r, _, _, _ := grey.At(1, 1).RGBA(); r>>8 != 51 {
		t.Errorf("grey image pixel %d, want 51", r>>8)
	}
}

// TestUpsample checks that a constant stays constant, the size is right and
// that the values keep their place.
func TestUpsample(t *testing.T) {
	m := tensor.FromSlice([]float32{0, 1, 2, 3}, 2, 2)
	u := Upsample(m, 4, 4)
	want := []float32{0, 0.25, 0.75, 1, 0.5, 0.75, 1.25, 1.5, 1.5, 1.75, 2.25, 2.5, 2, 2.25, 2.75, 3}
	for i, v := range u.Data {
		if math.Abs(float64(v-want[i])) > 1e-6 {
			t.Fatalf("Upsample = %v, want %v", u.Data, want)
		}
	}
	c := Upsample(tensor.Full(0.3, 3, 5), 7, 2)
	for _, v := range c.Data {
		if math.Abs(float64(v)-0.3) > 1e-6 {
			t.Fatalf("constant map became %v", c.Data)
		}
	}
}
