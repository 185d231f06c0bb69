package transform

import (
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/deepscope/deepscope/tensor"
)

// Transform maps an image [H, W, C] to a new image. Random transforms draw
// from rng, which must then be non-nil; deterministic ones ignore it.
type Transform interface {
	Apply(img *tensor.Tensor, rng *rand.Rand) *tensor.Tensor
	String() string
}

// Compose returns a transform that applies ts in order.
func Compose(ts ...Transform) Transform { return compose(ts) }

type compose []Transform

func (c compose) Apply(img *tensor.Tensor, rng *rand.Rand) *tensor.Tensor {
	for _, t := range c {
		img = t.Apply(img, rng)
	}
	return img
}

func (c compose) String() string {
	parts := make([]string, len(c))
	for i, t := range c {
		parts[i] = t.String()
	}
	return "Compose(" + strings.Join(parts, ", ") + ")"
}

// RandomApply returns a transform that applies t with probability p and
// otherwise returns the image unchanged. It draws one number from rng
// whether or not t runs.
func RandomApply(p float64, t Transform) Transform { return randomApply{p, t} }

type randomApply struct {
	p float64
	t Transform
}

func (r randomApply) Apply(img *tensor.Tensor, rng *rand.Rand) *tensor.Tensor {
	if rng.Float64() < r.p {
		return r.t.Apply(img, rng)
	}
	return img
}

func (r randomApply) String() string { return fmt.Sprintf("RandomApply(p=%g, %v)", r.p, r.t) }

// dims returns the height, width and channels of an image and its values,
// panicking if img is not a [H, W, C] tensor.
func dims(name string, img *tensor.Tensor) (h, w, c int, v []float32) {
	if img.Dims() != 3 {
		panic(fmt.Sprintf("transform: %s: want an image [H, W, C], got shape %v", name, img.Shape))
	}
	img = img.Contiguous()
	return img.Shape[0], img.Shape[1], img.Shape[2], img.Values()
}

// rgb is dims for transforms that need three channels.
func rgb(name string, img *tensor.Tensor) (h, w int, v []float32) {
	h, w, c, v := dims(name, img)
	if c != 3 {
		panic(fmt.Sprintf("transform: %s needs an RGB image, got shape %v", name, img.Shape))
	}
	return h, w, v
}

func clamp01(x float32) float32 {
	if x < 0 {
		return 0
	}
	if x > 1 {
		return 1
	}
	return x
}

// uniform draws from [lo, hi]; it draws once even when lo == hi, so a
// transform consumes the same amount of randomness whatever its settings.
func uniform(rng *rand.Rand, lo, hi float64) float64 { return lo + (hi-lo)*rng.Float64() }
