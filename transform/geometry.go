package transform

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/deepscope/deepscope/tensor"
)

// HorizontalFlip mirrors the image left to right with probability P.
type HorizontalFlip struct{ P float64 }

// Apply implements Transform; it draws one number from rng.
func (f HorizontalFlip) Apply(img *tensor.Tensor, rng *rand.Rand) *tensor.Tensor {
	if rng.Float64() >= f.P {
		return img
	}
	h, w, c, v := dims("HorizontalFlip", img)
	out := tensor.New(h, w, c)
	for y := range h {
		for x := range w {
			copy(out.Data[(y*w+x)*c:(y*w+x+1)*c], v[(y*w+w-1-x)*c:(y*w+w-x)*c])
		}
	}
	return out
}

func (f HorizontalFlip) String() string { return fmt.Sprintf("HorizontalFlip(p=%g)", f.P) }

// VerticalFlip mirrors the image top to bottom with probability P.
type VerticalFlip struct{ P float64 }

// Apply implements Transform; it draws one number from rng.
func (f VerticalFlip) Apply(img *tensor.Tensor, rng *rand.Rand) *tensor.Tensor {
	if rng.Float64() >= f.P {
		return img
	}
	h, w, c, v := dims("VerticalFlip", img)
	out := tensor.New(h, w, c)
	row := w * c
	for y := range h {
		copy(out.Data[y*row:(y+1)*row], v[(h-1-y)*row:(h-y)*row])
	}
	return out
}

func (f VerticalFlip) String() string { return fmt.Sprintf("VerticalFlip(p=%g)", f.P) }

// Rotate90 turns the image counter-clockwise by a multiple of 90 degrees
// drawn uniformly from {0, 90, 180, 270}. Non-square images swap height and
// width at 90 and 270 degrees.
type Rotate90 struct{}

// Apply implements Transform; it draws one number from rng.
func (Rotate90) Apply(img *tensor.Tensor, rng *rand.Rand) *tensor.Tensor {
	return Rot90(img, rng.IntN(4))
}

func (Rotate90) String() string { return "Rotate90()" }

// Rot90 turns img counter-clockwise by k quarter turns (k may be negative).
func Rot90(img *tensor.Tensor, k int) *tensor.Tensor {
	k = ((k % 4) + 4) % 4
	if k == 0 {
		return img
	}
	h, w, c, v := dims("Rot90", img)
	oh, ow := h, w
	if k != 2 {
		oh, ow = w, h
	}
	out := tensor.New(oh, ow, c)
	for y := range oh {
		for x := range ow {
			var sy, sx int
			switch k {
			case 1: // counter-clockwise: out(y, x) = in(x, w-1-y)
				sy, sx = x, w-1-y
			case 2:
				sy, sx = h-1-y, w-1-x
			case 3:
				sy, sx = h-1-x, y
			}
			copy(out.Data[(y*ow+x)*c:(y*ow+x+1)*c], v[(sy*w+sx)*c:(sy*w+sx+1)*c])
		}
	}
	return out
}

// Fill says what a rotation shows where the rotated image does not reach.
type Fill int

const (
	// FillReflect mirrors the image at its edges.
	FillReflect Fill = iota
	// FillBorderMean paints the mean colour of the image's outermost pixels,
	// which for a smear is the background.
	FillBorderMean
)

func (f Fill) String() string {
	if f == FillBorderMean {
		return "border-mean"
	}
	return "reflect"
}

// Rotate turns the image about its centre by an angle drawn uniformly from
// [-MaxDegrees, MaxDegrees], with bilinear interpolation; the output keeps
// the input's size. Cells have no up, so MaxDegrees = 180 is common.
type Rotate struct {
	MaxDegrees float64
	Fill       Fill
}

// Apply implements Transform; it draws one number from rng.
func (r Rotate) Apply(img *tensor.Tensor, rng *rand.Rand) *tensor.Tensor {
	deg := uniform(rng, -r.MaxDegrees, r.MaxDegrees)
	return RotateBy(img, deg, r.Fill)
}

func (r Rotate) String() string { return fmt.Sprintf("Rotate(±%g°, fill=%v)", r.MaxDegrees, r.Fill) }

// RotateBy turns img counter-clockwise by deg degrees about its centre.
func RotateBy(img *tensor.Tensor, deg float64, fill Fill) *tensor.Tensor {
	h, w, c, v := dims("Rotate", img)
	var bg []float32
	if fill == FillBorderMean {
		bg = borderMean(v, h, w, c)
	}
	sin, cos := math.Sincos(deg * math.Pi / 180)
	cy, cx := float64(h-1)/2, float64(w-1)/2
	out := tensor.New(h, w, c)
	px := func(y, x int) []float32 {
		if y < 0 || y >= h || x < 0 || x >= w {
			if bg != nil {
				return bg
			}
			y, x = reflect(y, h), reflect(x, w)
		}
		return v[(y*w+x)*c : (y*w+x+1)*c]
	}
	for y := range h {
		dy := float64(y) - cy
		for x := range w {
			dx := float64(x) - cx
			// Inverse map: the source point that lands on (y, x). With y
			// pointing down, a counter-clockwise turn on screen is
			// (dx, dy) -> (dx cos + dy sin, -dx sin + dy cos).
			sx := cx + dx*cos - dy*sin
			sy := cy + dx*sin + dy*cos
			x0, y0 := math.Floor(sx), math.Floor(sy)
			fx, fy := float32(sx-x0), float32(sy-y0)
			ix, iy := int(x0), int(y0)
			p00, p01 := px(iy, ix), px(iy, ix+1)
			p10, p11 := px(iy+1, ix), px(iy+1, ix+1)
			o := out.Data[(y*w+x)*c : (y*w+x+1)*c]
			for k := range c {
				top := p00[k] + fx*(p01[k]-p00[k])
				bot := p10[k] + fx*(p11[k]-p10[k])
				o[k] = top + fy*(bot-top)
			}
		}
	}
	return out
}

// reflect maps an index outside [0, n) into it by mirroring about the
// edges, repeating the edge pixel (… 1 0 | 0 1 … n-1 | n-1 n-2 …).
func reflect(i, n int) int {
	if n == 1 {
		return 0
	}
	p := 2 * n
	i %= p
	if i < 0 {
		i += p
	}
	if i >= n {
		i = p - 1 - i
	}
	return i
}

func borderMean(v []float32, h, w, c int) []float32 {
	sum := make([]float64, c)
	n := 0
	add := func(y, x int) {
		for k := range c {
			sum[k] += float64(v[(y*w+x)*c+k])
		}
		n++
	}
	for x := range w {
		add(0, x)
		if h > 1 {
			add(h-1, x)
		}
	}
	for y := 1; y < h-1; y++ {
		add(y, 0)
		if w > 1 {
			add(y, w-1)
		}
	}
	m := make([]float32, c)
	for k := range c {
		m[k] = float32(sum[k] / float64(n))
	}
	return m
}
