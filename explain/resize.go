package explain

import (
	"fmt"
	"math"

	"github.com/deepscope/deepscope/tensor"
)

// Upsample resizes a map [h, w] to [H, W] bilinearly with pixel centres
// aligned (PyTorch's interpolate with align_corners=False, OpenCV's
// resize), clamping at the edges. It also shrinks, though without
// antialiasing.
func Upsample(m *tensor.Tensor, H, W int) *tensor.Tensor {
	if m.Dims() != 2 || H < 1 || W < 1 {
		panic(fmt.Sprintf("explain: Upsample of %v to %dx%d", m.Shape, H, W))
	}
	h, w := m.Dim(0), m.Dim(1)
	src := m.Contiguous().Values()
	out := tensor.New(H, W)
	if h == H && w == W {
		copy(out.Data, src)
		return out
	}
	type tap struct {
		i0, i1 int
		f      float32
	}
	taps := func(n, N int) []tap {
		t := make([]tap, N)
		scale := float64(n) / float64(N)
		for i := range t {
			s := math.Max((float64(i)+0.5)*scale-0.5, 0)
			i0 := min(int(s), n-1)
			t[i] = tap{i0, min(i0+1, n-1), float32(s - float64(i0))}
		}
		return t
	}
	ty, tx := taps(h, H), taps(w, W)
	for y, a := range ty {
		for x, b := range tx {
			top := src[a.i0*w+b.i0]*(1-b.f) + src[a.i0*w+b.i1]*b.f
			bot := src[a.i1*w+b.i0]*(1-b.f) + src[a.i1*w+b.i1]*b.f
			out.Data[y*W+x] = top*(1-a.f) + bot*a.f
		}
	}
	return out
}
