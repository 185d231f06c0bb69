package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/deepscope/deepscope/tensor"
)

var upsampleCases = []struct {
	scale int
	shape []int
}{
	{2, []int{2, 3, 4, 3}},
	{3, []int{1, 2, 5, 2}},
	{2, []int{2, 1, 1, 4}},
	{1, []int{1, 3, 2, 2}},
	{4, []int{1, 3, 3, 1}},
}

// naiveUpsample evaluates PyTorch's definitions in float64: nearest takes
// input floor(o/s); bilinear (align_corners=False) samples source
// coordinate max((o+0.5)/s-0.5, 0) between floor and the next index.
func naiveUpsample(x *tensor.Tensor, s int, mode string) []float64 {
	n, h, w, c := x.Dim(0), x.Dim(1), x.Dim(2), x.Dim(3)
	src := func(o, in int) (int, int, float64) {
		if mode == "nearest" {
			return o / s, o / s, 0
		}
		f := math.Max((float64(o)+0.5)/float64(s)-0.5, 0)
		i0 := int(f)
		return i0, min(i0+1, in-1), f - float64(i0)
	}
	var y []float64
	for b := 0; b < n; b++ {
		for oy := 0; oy < h*s; oy++ {
			y0, y1, ly := src(oy, h)
			for ox := 0; ox < w*s; ox++ {
				x0, x1, lx := src(ox, w)
				for ch := 0; ch < c; ch++ {
					at := func(i, j int) float64 { return float64(x.At(b, i, j, ch)) }
					y = append(y, (1-ly)*((1-lx)*at(y0, x0)+lx*at(y0, x1))+ly*((1-lx)*at(y1, x0)+lx*at(y1, x1)))
				}
			}
		}
	}
	return y
}

func TestUpsampleForward(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	for _, uc := range upsampleCases {
		for _, mode := range []string{"nearest", "bilinear"} {
			x := tensor.Randn(rng, 1, uc.shape...)
			l := NewUpsample(uc.scale, mode)
			y := l.Forward(x)
			want := naiveUpsample(x, uc.scale, mode)
			assertClose64(t, fmt.Sprint(mode, uc), y.Values(), want, 1e-6)
		}
	}
}

// Known values: PyTorch's F.interpolate([[1, 2], [3, 4]], scale_factor=2,
// mode="bilinear", align_corners=False).
func TestUpsampleBilinearKnownValues(t *testing.T) {
	x := tensor.FromSlice([]float32{1, 2, 3, 4}, 1, 2, 2, 1)
	y := NewUpsample(2, "bilinear").Forward(x)
	want := []float64{
		1, 1.25, 1.75, 2,
		1.5, 1.75, 2.25, 2.5,
		2.5, 2.75, 3.25, 3.5,
		3, 3.25, 3.75, 4,
	}
	assertClose64(t, "2x2", y.Values(), want, 1e-7)
}

func TestUpsampleGrad(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 2))
	for _, uc := range upsampleCases {
		for _, mode := range []string{"nearest", "bilinear"} {
			checkGrads(t, gradCase{name: fmt.Sprint(mode, uc), m: NewUpsample(uc.scale, mode), x: tensor.Randn(rng, 1, uc.shape...)})
		}
	}
}

func TestNewUpsampleRejectsMode(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("no panic for mode bicubic")
		}
	}()
	NewUpsample(2, "bicubic")
}
