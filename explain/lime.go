package explain

import (
	"math"
	"math/rand/v2"

	"github.com/deepscope/deepscope/nn"
	"github.com/deepscope/deepscope/tensor"
)

// LIME fits a local linear surrogate of the model on superpixels (Ribeiro
// et al., 2016), as the lime package's image explainer does: Samples
// random on/off patterns of the superpixels (each on with probability one
// half; the first pattern all on), the class's output for each, a weight
// of sqrt(exp(-d^2 / width^2)) for a pattern at cosine distance d from
// all-on, and a weighted ridge regression of output on pattern. A
// superpixel's coefficient is spread evenly over its pixels.
type LIME struct {
	Segments    int     // superpixels; 0 means 48
	Samples     int     // patterns; 0 means 512
	Batch       int     // patterns per pass; 0 means DefaultBatch
	Seed        uint64  // seed of the patterns
	KernelWidth float64 // 0 means 0.25
	Ridge       float64 // ridge penalty; 0 means 1
	Output      Output
	Reference
}

// Name returns "lime".
func (LIME) Name() string { return "lime" }

// Explain returns the surrogate's coefficients per pixel.
func (l LIME) Explain(m nn.Module, x *tensor.Tensor, class int) (heat *tensor.Tensor, err error) {
	defer guard(&err, x)
	r, err := newRunner(m, x, class, l.Batch)
	if err != nil {
		return nil, err
	}
	s, err := newSegmented(r, l.Reference, l.Segments)
	if err != nil {
		return nil, err
	}
	n := l.Samples
	if n <= 0 {
		n = 512
	}
	width := l.KernelWidth
	if width <= 0 {
		width = 0.25
	}
	lambda := l.Ridge
	if lambda <= 0 {
		lambda = 1
	}
	d := s.d
	rng := rand.New(rand.NewPCG(l.Seed, 0x4c494d45))
	on := make([]bool, n*d)
	for i := range on {
		on[i] = i < d || rng.IntN(2) == 1
	}
	ys := r.scores(n, l.Output, func(i int, img []float32) { s.fill(img, on[i*d:(i+1)*d]) })
	X := make([]float64, n*d)
	w := make([]float64, n)
	for i := range n {
		k := 0
		for j := range d {
			if on[i*d+j] {
				X[i*d+j] = 1
				k++
			}
		}
		dist := 1 - math.Sqrt(float64(k)/float64(d)) // cosine distance to all-on
		w[i] = math.Sqrt(math.Exp(-dist * dist / (width * width)))
	}
	beta, _, err := weightedRidge(X, ys, w, d, lambda, true)
	if err != nil {
		return nil, err
	}
	return s.paint(beta), nil
}
