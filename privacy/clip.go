package privacy

import (
	"fmt"
	"math"
	"strings"

	"github.com/deepscope/deepscope/nn"
	"github.com/deepscope/deepscope/tensor"
)

// PerSampleLayers returns the modules of m that own trained parameters,
// each of which must report per-sample gradient norms (nn.PerSampler). It
// names the first that does not: batch norm, which mixes the samples of
// a batch, is the usual one.
func PerSampleLayers(m nn.Module) ([]nn.PerSampler, error) {
	var out []nn.PerSampler
	var err error
	var visit func(path []string, m nn.Module)
	visit = func(path []string, m nn.Module) {
		if err != nil {
			return
		}
		if o, ok := m.(nn.Owner); ok && trains(o) {
			ps, ok := m.(nn.PerSampler)
			if !ok {
				name := "layer " + strings.Join(path, ".")
				if len(path) == 0 {
					name = "the model's own parameters"
				}
				err = fmt.Errorf("privacy: %s (%T): no per-sample gradients, which DP-SGD needs from every layer with parameters", name, m)
				return
			}
			out = append(out, ps)
		}
		if p, ok := m.(nn.Parent); ok {
			for _, c := range p.Children() {
				visit(append(path, c.Name), c.Module)
			}
		}
	}
	visit(nil, m)
	return out, err
}

// trains reports whether o owns a parameter with a gradient.
func trains(o nn.Owner) bool {
	for _, p := range o.Params() {
		if p.Grad != nil {
			return true
		}
	}
	return false
}

// Clipper computes the sum of per-sample gradients, each clipped to an L2
// norm of at most MaxNorm, without running samples one at a time ("ghost
// clipping", Li et al. 2022; Bu et al. 2023): a first backward pass gives
// every layer what it needs to report each sample's gradient norm
// (nn.PerSampler, from the layer's input and output gradient, without
// forming per-sample gradients where a cheaper identity exists); each
// sample's output gradient is then scaled by min(1, MaxNorm/‖gₙ‖) and a
// second backward pass accumulates the clipped sum. The cost is one
// forward and two backward passes plus the norms, instead of one forward
// and backward per sample.
//
// It is exact only for networks whose samples do not interact (no batch
// norm), which PerSampleLayers checks for the layers with parameters.
type Clipper struct {
	Model   nn.Module
	MaxNorm float64

	layers []nn.PerSampler
	sq     []float64
	scaled *tensor.Tensor
}

// NewClipper returns a Clipper for m, or PerSampleLayers' error.
func NewClipper(m nn.Module, maxNorm float64) (*Clipper, error) {
	if !(maxNorm > 0) || math.IsInf(maxNorm, 1) {
		return nil, fmt.Errorf("privacy: max grad norm %g: want a finite value > 0", maxNorm)
	}
	layers, err := PerSampleLayers(m)
	if err != nil {
		return nil, err
	}
	return &Clipper{Model: m, MaxNorm: maxNorm, layers: layers}, nil
}

// Backward takes dy, the gradient of the sum of the samples' own losses
// with respect to the output of the model's last Forward (dimension 0 is
// the sample: row n is sample n's loss gradient alone, so a mean loss's
// gradient must be multiplied by the batch size), sets every parameter
// gradient to Σₙ min(1, MaxNorm/‖gₙ‖)·gₙ, where gₙ is sample n's
// parameter gradient, and returns the norms ‖gₙ‖ (valid until the next
// call). dy itself is left unchanged.
func (c *Clipper) Backward(dy *tensor.Tensor) []float64 {
	dy = dy.Contiguous()
	n := dy.Dim(0)
	nn.ZeroGrad(c.Model)
	c.Model.Backward(dy)
	if cap(c.sq) < n {
		c.sq = make([]float64, n)
	}
	sq := c.sq[:n]
	clear(sq)
	for _, l := range c.layers {
		l.AddPerSampleGradSq(sq)
	}
	s := tensor.Ensure(&c.scaled, dy.Shape...)
	per := dy.Len() / max(n, 1)
	src, dst := dy.Values(), s.Values()
	for i := range sq {
		sq[i] = math.Sqrt(sq[i])
		f := float32(math.Min(1, c.MaxNorm/(sq[i]+1e-6)))
		d, g := dst[i*per:(i+1)*per], src[i*per:(i+1)*per]
		for j, v := range g {
			d[j] = v * f
		}
	}
	nn.ZeroGrad(c.Model)
	c.Model.Backward(s)
	return sq
}
