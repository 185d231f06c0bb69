package drift

import (
	"fmt"
	"math"

	"github.com/deepscope/deepscope/nn"
	"github.com/deepscope/deepscope/tensor"
)

// stainedOD is the total optical density (summed over channels) above which
// a pixel counts as stained rather than background.
const stainedOD = 0.3

// StatNames names the values ImageStats returns for images of c channels,
// in order, followed by "confidence", the last scalar feature a Monitor
// compares.
func StatNames(c int) []string {
	ch := []string{"r", "g", "b"}
	if c == 1 {
		ch = []string{"grey"}
	}
	var names []string
	for _, p := range []string{"mean_", "std_", "od_"} {
		for _, k := range ch {
			names = append(names, p+k)
		}
	}
	return append(names, "stained_fraction", "confidence")
}

// ImageStats returns the colour and stain summary of one model input x
// [S, S, C], normalised with mean and std as the run prepares images
// (train.Model.Prepare); the pixel values are recovered as x*std+mean.
// The values, in StatNames order: per-channel mean and standard
// deviation; per-channel mean optical density of the stained pixels, with
// the illumination taken as each channel's 99th percentile (the
// background); and the fraction of stained pixels. Confidence is not
// included: it comes from the model.
func ImageStats(x *tensor.Tensor, mean, std []float32) []float64 {
	if x.Dims() != 3 {
		panic(fmt.Sprintf("drift: ImageStats of shape %v, want [S, S, C]", x.Shape))
	}
	c := x.Dim(2)
	v := x.Contiguous().Values()
	n := len(v) / c
	pix := make([]float32, len(v))
	for i, a := range v {
		k := i % c
		if k < len(std) {
			a = a*std[k] + mean[k]
		}
		pix[i] = min(max(a, 0), 1)
	}
	out := make([]float64, 3*c+1)
	light := make([]float64, c)
	for k := 0; k < c; k++ {
		var s, ss float64
		var hist [256]int
		for i := k; i < len(pix); i += c {
			p := float64(pix[i])
			s += p
			ss += p * p
			hist[int(p*255+0.5)]++
		}
		m := s / float64(n)
		out[k] = m
		out[c+k] = math.Sqrt(math.Max(ss/float64(n)-m*m, 0))
		light[k] = percentile(hist[:], n, 0.99)
	}
	stained := 0
	od := make([]float64, c)
	for i := 0; i < n; i++ {
		var tot float64
		for k := 0; k < c; k++ {
			od[k] = opticalDensity(float64(pix[i*c+k]), light[k])
			tot += od[k]
		}
		if tot*3/float64(c) <= stainedOD {
			continue
		}
		stained++
		for k := 0; k < c; k++ {
			out[2*c+k] += od[k]
		}
	}
	if stained > 0 {
		for k := 0; k < c; k++ {
			out[2*c+k] /= float64(stained)
		}
	}
	out[3*c] = float64(stained) / float64(n)
	return out
}

// opticalDensity is the absorbance -ln(I/I0) of a pixel of intensity p
// under illumination light, floored at 0 and with I kept above 1/255.
func opticalDensity(p, light float64) float64 {
	light = max(light, 1.0/255)
	return max(0, -math.Log(max(p, 1.0/255)/light))
}

// percentile returns the q-quantile of n values held as a 256-bin
// histogram of 8-bit levels, as a value in [0, 1].
func percentile(hist []int, n int, q float64) float64 {
	want := int(math.Ceil(q * float64(n)))
	acc := 0
	for i, h := range hist {
		acc += h
		if acc >= want {
			return float64(i) / 255
		}
	}
	return 1
}

// Splitter is a network with a feature extractor and a head, as
// models.ResNet has: Forward(x) == Head(Features(x)).
type Splitter interface {
	Features(x *tensor.Tensor) *tensor.Tensor
	Head(f *tensor.Tensor) *tensor.Tensor
}

// Embed runs net on a normalised batch x [N, S, S, C] and returns its
// logits [N, classes] and one embedding per image: the globally averaged
// last feature map when net is a Splitter, else a copy of the logits. The
// logits tensor belongs to net and is valid until its next call; the
// embeddings are fresh memory. It costs one forward pass.
func Embed(net nn.Module, x *tensor.Tensor) (logits *tensor.Tensor, emb [][]float32) {
	n := x.Dim(0)
	emb = make([][]float32, n)
	sp, ok := net.(Splitter)
	if !ok {
		logits = net.Forward(x)
		k := logits.Len() / max(n, 1)
		v := logits.Contiguous().Values()
		for i := range emb {
			emb[i] = append([]float32(nil), v[i*k:(i+1)*k]...)
		}
		return logits, emb
	}
	f := sp.Features(x).Contiguous()
	c := f.Dim(-1)
	p := f.Len() / max(n*c, 1)
	fv := f.Values()
	for i := range emb {
		e := make([]float32, c)
		img := fv[i*p*c : (i+1)*p*c]
		for j := 0; j < p; j++ {
			tensor.Add(e, e, img[j*c:(j+1)*c])
		}
		tensor.Scale(1/float32(p), e)
		emb[i] = e
	}
	return sp.Head(f), emb
}

// Confidence returns how sure a prediction is: the top probability of a
// single-label model, or for a multi-label one the mean over labels of
// max(p, 1-p).
func Confidence(probs []float64, multiLabel bool) float64 {
	if len(probs) == 0 {
		return 0
	}
	if !multiLabel {
		best := probs[0]
		for _, p := range probs[1:] {
			best = max(best, p)
		}
		return best
	}
	var s float64
	for _, p := range probs {
		s += max(p, 1-p)
	}
	return s / float64(len(probs))
}
