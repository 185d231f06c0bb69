package explain

import (
	"github.com/deepscope/deepscope/nn"
	"github.com/deepscope/deepscope/tensor"
)

// Occlusion slides a square of the reference image over the image (Zeiler
// and Fergus, 2014) and credits each pixel with the mean drop in the
// class's output over the squares that cover it. The last row and column
// of squares sit flush with the far edges, so every pixel is covered.
type Occlusion struct {
	Patch  int // square side; 0 means the image side / 8, at least 2
	Stride int // step between squares; 0 means Patch / 2, at least 1
	Batch  int // occluded copies per pass; 0 means DefaultBatch
	Output Output
	Reference
}

// Name returns "occlusion".
func (Occlusion) Name() string { return "occlusion" }

// starts returns the positions of squares of side p along n pixels.
func starts(n, p, stride int) []int {
	if p >= n {
		return []int{0}
	}
	var s []int
	for i := 0; i+p < n; i += stride {
		s = append(s, i)
	}
	return append(s, n-p)
}

// Explain returns the mean output drop per pixel (negative where hiding a
// pixel raises the class's output).
func (o Occlusion) Explain(m nn.Module, x *tensor.Tensor, class int) (heat *tensor.Tensor, err error) {
	defer guard(&err, x)
	r, err := newRunner(m, x, class, o.Batch)
	if err != nil {
		return nil, err
	}
	ref, err := o.image(r.x, r.h, r.w, r.c)
	if err != nil {
		return nil, err
	}
	p := o.Patch
	if p <= 0 {
		p = max(2, max(r.h, r.w)/8)
	}
	p = min(p, max(r.h, r.w))
	stride := o.Stride
	if stride <= 0 {
		stride = max(1, p/2)
	}
	ys, xs := starts(r.h, min(p, r.h), stride), starts(r.w, min(p, r.w), stride)
	ph, pw := min(p, r.h), min(p, r.w)
	f0 := score(r.logits, class, o.Output)
	c := r.c
	drops := r.scores(len(ys)*len(xs), o.Output, func(i int, img []float32) {
		copy(img, r.x)
		y0, x0 := ys[i/len(xs)], xs[i%len(xs)]
		for y := y0; y < y0+ph; y++ {
			row := (y*r.w + x0) * c
			copy(img[row:row+pw*c], ref[row:row+pw*c])
		}
	})
	sum := make([]float64, r.h*r.w)
	cnt := make([]int, r.h*r.w)
	for i, f := range drops {
		y0, x0 := ys[i/len(xs)], xs[i%len(xs)]
		for y := y0; y < y0+ph; y++ {
			for x := x0; x < x0+pw; x++ {
				sum[y*r.w+x] += f0 - f
				cnt[y*r.w+x]++
			}
		}
	}
	heat = tensor.New(r.h, r.w)
	for i := range sum {
		if cnt[i] > 0 {
			heat.Data[i] = float32(sum[i] / float64(cnt[i]))
		}
	}
	return heat, nil
}
