package explain

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/deepscope/deepscope/nn"
	"github.com/deepscope/deepscope/tensor"
)

// Saliency is the vanilla gradient map of Simonyan et al. (2014): the
// largest absolute gradient of the class logit over each pixel's channels,
// from one backward pass in evaluation mode.
type Saliency struct{}

// Name returns "saliency".
func (Saliency) Name() string { return "saliency" }

// Explain returns max_c |d logit / d x| per pixel.
func (s Saliency) Explain(m nn.Module, x *tensor.Tensor, class int) (heat *tensor.Tensor, err error) {
	defer guard(&err, x)
	r, err := newRunner(m, x, class, 1)
	if err != nil {
		return nil, err
	}
	heat = tensor.New(r.h, r.w)
	r.grads(1, func(_ int, img []float32) { copy(img, r.x) }, func(_ int, _ float32, g []float32) {
		maxAbsChannels(heat.Data, g, r.c, 1)
	})
	return heat, nil
}

// maxAbsChannels adds scale * max_c |g| of each pixel of g [h*w*c] into dst [h*w].
func maxAbsChannels(dst, g []float32, c int, scale float32) {
	for p := range dst {
		var mx float32
		for _, v := range g[p*c : (p+1)*c] {
			mx = max(mx, float32(math.Abs(float64(v))))
		}
		dst[p] += scale * mx
	}
}

// SmoothGrad averages the saliency maps of noisy copies of the image
// (Smilkov et al., 2017): Gaussian noise of standard deviation Noise times
// the image's range of values, Samples copies.
type SmoothGrad struct {
	Samples int     // noisy copies; 0 means 32
	Noise   float64 // noise level; 0 means 0.15
	Batch   int     // copies per pass; 0 means DefaultBatch
	Seed    uint64
}

// Name returns "smoothgrad".
func (SmoothGrad) Name() string { return "smoothgrad" }

// Explain returns the mean over noisy copies of max_c |d logit / d x|.
func (s SmoothGrad) Explain(m nn.Module, x *tensor.Tensor, class int) (heat *tensor.Tensor, err error) {
	defer guard(&err, x)
	n := s.Samples
	if n <= 0 {
		n = 32
	}
	level := s.Noise
	if level <= 0 {
		level = 0.15
	}
	r, err := newRunner(m, x, class, s.Batch)
	if err != nil {
		return nil, err
	}
	lo, hi := float32(math.Inf(1)), float32(math.Inf(-1))
	for _, v := range r.x {
		lo, hi = min(lo, v), max(hi, v)
	}
	sigma := level * float64(hi-lo)
	rng := rand.New(rand.NewPCG(s.Seed, 0x5346))
	heat = tensor.New(r.h, r.w)
	r.grads(n, func(_ int, img []float32) {
		for i, v := range r.x {
			img[i] = v + float32(sigma*rng.NormFloat64())
		}
	}, func(_ int, _ float32, g []float32) {
		maxAbsChannels(heat.Data, g, r.c, 1/float32(n))
	})
	return heat, nil
}

// IntegratedGradients is the path attribution of Sundararajan et al.
// (2017): each input value's difference from the reference times the mean
// gradient of the class logit along the straight path from the reference
// to the image, by the midpoint rule over Steps points. The attributions
// add up to logit(x) - logit(reference), up to the quadrature error
// (completeness); the map sums them over each pixel's channels, so the map
// adds up to the same difference.
type IntegratedGradients struct {
	Steps int // points on the path; 0 means 64
	Batch int // points per pass; 0 means DefaultBatch
	Reference
}

// Name returns "ig".
func (IntegratedGradients) Name() string { return "ig" }

// Attribution is integrated gradients' full result.
type Attribution struct {
	Values    *tensor.Tensor // per input value, [H, W, C]
	Logit     float64        // the class logit of the image
	Reference float64        // the class logit of the reference image
	Sum       float64        // the sum of Values
}

// Gap returns how far the attributions miss completeness, relative to the
// difference they should add up to: |Sum - (Logit - Reference)| / |Logit - Reference|.
func (a *Attribution) Gap() float64 {
	d := a.Logit - a.Reference
	return math.Abs(a.Sum-d) / math.Max(math.Abs(d), 1e-12)
}

// Attribute returns the attributions of class for x [1, H, W, C].
func (ig IntegratedGradients) Attribute(m nn.Module, x *tensor.Tensor, class int) (a *Attribution, err error) {
	defer guard(&err, x)
	steps := ig.Steps
	if steps <= 0 {
		steps = 64
	}
	r, err := newRunner(m, x, class, ig.Batch)
	if err != nil {
		return nil, err
	}
	ref, err := ig.image(r.x, r.h, r.w, r.c)
	if err != nil {
		return nil, err
	}
	acc := make([]float64, len(r.x))
	a = &Attribution{Logit: float64(r.logits[class])}
	// Point -1 is the reference itself, for its logit; its gradient is not used.
	r.grads(steps+1, func(i int, img []float32) {
		alpha := float32(0)
		if i > 0 {
			alpha = (float32(i-1) + 0.5) / float32(steps)
		}
		for j, v := range r.x {
			img[j] = ref[j] + alpha*(v-ref[j])
		}
	}, func(i int, logit float32, g []float32) {
		if i == 0 {
			a.Reference = float64(logit)
			return
		}
		for j, v := range g {
			acc[j] += float64(v)
		}
	})
	a.Values = tensor.New(r.h, r.w, r.c)
	for j, v := range acc {
		attr := float64(r.x[j]-ref[j]) * v / float64(steps)
		a.Values.Data[j] = float32(attr)
		a.Sum += attr
	}
	if math.IsNaN(a.Sum) {
		return nil, fmt.Errorf("explain: integrated gradients of class %d are not finite", class)
	}
	return a, nil
}

// Explain returns the attributions summed over each pixel's channels.
func (ig IntegratedGradients) Explain(m nn.Module, x *tensor.Tensor, class int) (*tensor.Tensor, error) {
	a, err := ig.Attribute(m, x, class)
	if err != nil {
		return nil, err
	}
	return sumChannels(a.Values), nil
}

// sumChannels sums a [H, W, C] tensor over C.
func sumChannels(t *tensor.Tensor) *tensor.Tensor {
	h, w, c := t.Dim(0), t.Dim(1), t.Dim(2)
	out := tensor.New(h, w)
	for p := range out.Data {
		var s float32
		for _, v := range t.Data[p*c : (p+1)*c] {
			s += v
		}
		out.Data[p] = s
	}
	return out
}

// Random is a map of independent uniform random values: the floor any
// method must beat in the faithfulness and sanity tables.
type Random struct {
	Seed uint64
}

// Name returns "random".
func (Random) Name() string { return "random" }

// Explain returns a random map of x's size.
func (r Random) Explain(m nn.Module, x *tensor.Tensor, class int) (*tensor.Tensor, error) {
	if err := checkInput(x); err != nil {
		return nil, err
	}
	// The draw depends on the image, so images get different maps, and on
	// nothing else, so the same image always gets the same one.
	h := uint64(class)
	for _, v := range x.Contiguous().Values() {
		h = (h ^ uint64(math.Float32bits(v))) * 0x100000001B3
	}
	rng := rand.New(rand.NewPCG(r.Seed, h))
	return tensor.Uniform(rng, 0, 1, x.Dim(1), x.Dim(2)), nil
}
