package train

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/deepscope/deepscope/data"
)

// statImages is how many training images channelStats measures: enough for
// the mean and spread of each channel to settle to three decimals.
const statImages = 2000

// channelStats returns the per-channel mean and standard deviation of up to
// statImages training images (a seeded sample), preprocessed as the model
// will see them, for the run's normalisation.
func channelStats(ds *data.Dataset, pre data.Preprocess, seed uint64) (mean, std []float32, err error) {
	sub := *ds
	if ds.Len() > statImages {
		perm := rand.New(rand.NewPCG(seed, 0x57a7)).Perm(ds.Len())[:statImages]
		sub.Items = make([]data.Item, statImages)
		for i, j := range perm {
			sub.Items[i] = ds.Items[j]
		}
	}
	l, err := data.NewLoader(&sub, data.LoaderConfig{BatchSize: 64, Preprocess: pre})
	if err != nil {
		return nil, nil, err
	}
	var sum, sq []float64
	var n int
	for b, err := range l.Epoch(0, 0) {
		if err != nil {
			return nil, nil, err
		}
		c := b.X.Dim(-1)
		if sum == nil {
			sum, sq = make([]float64, c), make([]float64, c)
		}
		for i, v := range b.X.Values() {
			sum[i%c] += float64(v)
			sq[i%c] += float64(v) * float64(v)
		}
		n += b.X.Len() / c
	}
	if n == 0 {
		return nil, nil, fmt.Errorf("train: no training pixels to measure")
	}
	for k := range sum {
		m := sum[k] / float64(n)
		s := math.Sqrt(math.Max(sq[k]/float64(n)-m*m, 0))
		if s < 1e-3 {
			s = 1
		}
		mean, std = append(mean, float32(m)), append(std, float32(s))
	}
	return mean, std, nil
}
