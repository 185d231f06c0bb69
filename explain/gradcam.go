package explain

import (
	"fmt"
	"math"

	"github.com/deepscope/deepscope/nn"
	"github.com/deepscope/deepscope/tensor"
)

// Splitter is a model cut into a convolutional trunk and a head, which
// Grad-CAM needs: Features maps images to the last feature map
// [N, h, w, K], Head maps that to logits and HeadBackward takes dL/dlogits
// back to dL/d(feature map). models.ResNet (and so CellNet) is one.
type Splitter interface {
	Features(x *tensor.Tensor) *tensor.Tensor
	Head(f *tensor.Tensor) *tensor.Tensor
	HeadBackward(dy *tensor.Tensor) *tensor.Tensor
}

// CAM is Grad-CAM (Selvaraju et al., 2017) or, with PlusPlus, Grad-CAM++
// (Chattopadhay et al., 2018). The map is ReLU(sum_k a_k A_k) over the
// channels A_k of the model's last feature map, upsampled bilinearly to the
// input's size and divided by its maximum, so it lies in [0, 1] (all zeros
// when nothing in the feature map speaks for the class). Grad-CAM weighs a
// channel by its mean gradient; Grad-CAM++ by a positively weighted sum of
// gradients that credits several separate regions of evidence better.
type CAM struct {
	PlusPlus bool
}

// Name returns "gradcam" or "gradcampp".
func (c CAM) Name() string {
	if c.PlusPlus {
		return "gradcampp"
	}
	return "gradcam"
}

// Explain returns the map of class for x [1, H, W, C]; m must be a Splitter.
func (c CAM) Explain(m nn.Module, x *tensor.Tensor, class int) (heat *tensor.Tensor, err error) {
	defer guard(&err, x)
	s, ok := m.(Splitter)
	if !ok {
		return nil, fmt.Errorf("explain: %s needs a model split into features and head (Features, Head, HeadBackward), and %T is not", c.Name(), m)
	}
	if err := checkInput(x); err != nil {
		return nil, err
	}
	nn.SetTraining(m, false)
	defer nn.ZeroGrad(m)
	f := s.Features(x.Contiguous())
	if f.Dims() != 4 || f.Dim(0) != 1 {
		return nil, fmt.Errorf("explain: %s: feature map %v is not [1, h, w, channels]", c.Name(), f.Shape)
	}
	y := s.Head(f)
	if y.Dims() != 2 || class < 0 || class >= y.Dim(1) {
		return nil, fmt.Errorf("explain: class %d out of range for model output %v", class, y.Shape)
	}
	dy := tensor.New(y.Shape...)
	dy.Data[class] = 1
	g := s.HeadBackward(dy).Contiguous().Values()
	a := f.Contiguous().Values()
	h, w, k := f.Dim(1), f.Dim(2), f.Dim(3)
	weights := channelWeights(a, g, h*w, k, c.PlusPlus)
	cam := tensor.New(h, w)
	for p := range h * w {
		var v float64
		for j, wj := range weights {
			v += wj * float64(a[p*k+j])
		}
		cam.Data[p] = float32(math.Max(v, 0))
	}
	heat = Upsample(cam, x.Dim(1), x.Dim(2))
	normaliseMax(heat.Data)
	return heat, nil
}

// channelWeights returns Grad-CAM's weight of each of the k channels of the
// feature map a [n, k] given the gradient g [n, k]: the mean gradient, or
// Grad-CAM++'s sum over positions of
// relu(g) * g^2 / (2 g^2 + sum_ab(A) g^3), which is exact when the score is
// the exponential of the logit.
func channelWeights(a, g []float32, n, k int, plusPlus bool) []float64 {
	w := make([]float64, k)
	if !plusPlus {
		for p := range n {
			for j := range k {
				w[j] += float64(g[p*k+j])
			}
		}
		for j := range w {
			w[j] /= float64(n)
		}
		return w
	}
	sumA := make([]float64, k)
	for p := range n {
		for j := range k {
			sumA[j] += float64(a[p*k+j])
		}
	}
	for p := range n {
		for j := range k {
			gv := float64(g[p*k+j])
			if gv <= 0 {
				continue // relu(g) is zero
			}
			g2 := gv * gv
			den := 2*g2 + sumA[j]*g2*gv
			if den == 0 {
				continue
			}
			w[j] += g2 / den * gv
		}
	}
	return w
}

// normaliseMax divides v by its maximum when that is positive, clipping
// negative values to 0; a map with no positive value becomes all zeros.
func normaliseMax(v []float32) {
	var mx float32
	for _, x := range v {
		mx = max(mx, x)
	}
	for i, x := range v {
		if mx > 0 && x > 0 {
			v[i] = x / mx
		} else {
			v[i] = 0
		}
	}
}

// GradCAM returns the Grad-CAM map [H, W] in [0, 1] of class for one
// normalised image x [1, H, W, C]. m must be a Splitter (models.ResNet and
// CellNet are); other models give an error.
func GradCAM(m nn.Module, x *tensor.Tensor, class int) (*tensor.Tensor, error) {
	return CAM{}.Explain(m, x, class)
}

// GradCAMPlusPlus is GradCAM with Grad-CAM++'s channel weights.
func GradCAMPlusPlus(m nn.Module, x *tensor.Tensor, class int) (*tensor.Tensor, error) {
	return CAM{PlusPlus: true}.Explain(m, x, class)
}
