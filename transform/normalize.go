package transform

import (
	"fmt"
	"iter"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/deepscope/deepscope/tensor"
)

// Normalize maps each channel c to (x - Mean[c]) / Std[c], the last step
// of a pipeline; compute Mean and Std on the training images with
// ChannelStats. It is deterministic; rng is not used.
type Normalize struct {
	Mean, Std []float32
}

// Apply implements Transform. It panics if the image's channel count
// differs from len(Mean) or len(Std).
func (n Normalize) Apply(img *tensor.Tensor, _ *rand.Rand) *tensor.Tensor {
	h, w, c, v := dims("Normalize", img)
	if len(n.Mean) != c || len(n.Std) != c {
		panic(fmt.Sprintf("transform: Normalize with %d means and %d stds for an image of shape %v", len(n.Mean), len(n.Std), img.Shape))
	}
	inv := make([]float32, c)
	for k, s := range n.Std {
		inv[k] = 1 / s
	}
	out := tensor.New(h, w, c)
	for i, x := range v {
		k := i % c
		out.Data[i] = (x - n.Mean[k]) * inv[k]
	}
	return out
}

func (n Normalize) String() string {
	return fmt.Sprintf("Normalize(mean=%.4g, std=%.4g)", n.Mean, n.Std)
}

// Moments accumulates per-channel sums over images, for ChannelStats
// computed while images stream past. The zero value is ready to use.
type Moments struct {
	n       int64
	sum, sq []float64
}

// Add counts the pixels of img; every image must have the channel count
// of the first.
func (m *Moments) Add(img *tensor.Tensor) error {
	if img.Dims() != 3 {
		return fmt.Errorf("transform: ChannelStats: image of shape %v, want [H, W, C]", img.Shape)
	}
	c := img.Shape[2]
	if m.sum == nil {
		m.sum, m.sq = make([]float64, c), make([]float64, c)
	}
	if len(m.sum) != c {
		return fmt.Errorf("transform: ChannelStats: image with %d channels after images with %d", c, len(m.sum))
	}
	v := img.Contiguous().Values()
	for i, x := range v {
		k := i % c
		m.sum[k] += float64(x)
		m.sq[k] += float64(x) * float64(x)
	}
	m.n += int64(len(v) / max(c, 1))
	return nil
}

// MeanStd returns the per-channel mean and (population) standard
// deviation of all pixels added so far, or nil slices when none were.
func (m *Moments) MeanStd() (mean, std []float32) {
	if m.n == 0 {
		return nil, nil
	}
	mean, std = make([]float32, len(m.sum)), make([]float32, len(m.sum))
	for k := range m.sum {
		mu := m.sum[k] / float64(m.n)
		mean[k] = float32(mu)
		std[k] = float32(math.Sqrt(math.Max(m.sq[k]/float64(m.n)-mu*mu, 0)))
	}
	return mean, std
}

// ChannelStats returns the per-channel mean and standard deviation over
// every pixel of the images, as Normalize wants them. A channel with no
// spread gets std 1, so Normalize stays finite. Use ChannelStatsOf for a
// slice.
func ChannelStats(images iter.Seq[*tensor.Tensor]) (mean, std []float32, err error) {
	var m Moments
	for img := range images {
		if err := m.Add(img); err != nil {
			return nil, nil, err
		}
	}
	if m.n == 0 {
		return nil, nil, fmt.Errorf("transform: ChannelStats: no pixels")
	}
	mean, std = m.MeanStd()
	for k, s := range std {
		if s == 0 {
			std[k] = 1
		}
	}
	return mean, std, nil
}

// ChannelStatsOf is ChannelStats over a slice of images.
func ChannelStatsOf(images []*tensor.Tensor) (mean, std []float32, err error) {
	return ChannelStats(slices.Values(images))
}
