package fl

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/deepscope/deepscope/data"
)

// ImageStats are a client's per-channel pixel statistics, from which the
// server pools the normalisation every client then uses: the federated
// version of the channel statistics train measures on its training set.
// A site reveals its mean colour and spread to the server, nothing more.
type ImageStats struct {
	Pixels int64     `json:"pixels"` // pixels per channel measured
	Mean   []float64 `json:"mean"`
	Std    []float64 `json:"std"`
}

// statImages caps the images MeasureStats reads, as train does.
const statImages = 2000

// MeasureStats returns the per-channel mean and standard deviation of up to
// 2,000 of ds's images (a seeded sample), preprocessed as the model sees
// them.
func MeasureStats(ds *data.Dataset, pre data.Preprocess, seed uint64) (ImageStats, error) {
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
		return ImageStats{}, err
	}
	var sum, sq []float64
	var n int64
	for b, err := range l.Epoch(0, 0) {
		if err != nil {
			return ImageStats{}, err
		}
		c := b.X.Dim(-1)
		if sum == nil {
			sum, sq = make([]float64, c), make([]float64, c)
		}
		for i, v := range b.X.Values() {
			sum[i%c] += float64(v)
			sq[i%c] += float64(v) * float64(v)
		}
		n += int64(b.X.Len() / c)
	}
	if n == 0 {
		return ImageStats{}, fmt.Errorf("fl: no pixels to measure")
	}
	st := ImageStats{Pixels: n}
	for k := range sum {
		m := sum[k] / float64(n)
		st.Mean = append(st.Mean, m)
		st.Std = append(st.Std, math.Sqrt(math.Max(sq[k]/float64(n)-m*m, 0)))
	}
	return st, nil
}

// PoolStats combines the statistics of several clients into those of the
// union of their pixels: the pixel-weighted mean, and the standard
// deviation from the pooled second moment. A channel with (almost) no
// spread gets standard deviation 1, as in train.
func PoolStats(ss []ImageStats) (mean, std []float32, err error) {
	var total float64
	var m1, m2 []float64
	for i, s := range ss {
		if s.Pixels <= 0 || len(s.Mean) == 0 || len(s.Mean) != len(s.Std) {
			return nil, nil, fmt.Errorf("fl: image statistics %d are empty or malformed", i)
		}
		if m1 == nil {
			m1, m2 = make([]float64, len(s.Mean)), make([]float64, len(s.Mean))
		} else if len(s.Mean) != len(m1) {
			return nil, nil, fmt.Errorf("fl: image statistics with %d and %d channels", len(m1), len(s.Mean))
		}
		w := float64(s.Pixels)
		for k := range m1 {
			if math.IsNaN(s.Mean[k]) || math.IsNaN(s.Std[k]) || s.Std[k] < 0 {
				return nil, nil, fmt.Errorf("fl: image statistics %d: bad mean %g or std %g", i, s.Mean[k], s.Std[k])
			}
			m1[k] += w * s.Mean[k]
			m2[k] += w * (s.Std[k]*s.Std[k] + s.Mean[k]*s.Mean[k])
		}
		total += w
	}
	if total == 0 {
		return nil, nil, fmt.Errorf("fl: no image statistics to pool")
	}
	for k := range m1 {
		mu := m1[k] / total
		sd := math.Sqrt(math.Max(m2[k]/total-mu*mu, 0))
		if sd < 1e-3 {
			sd = 1
		}
		mean, std = append(mean, float32(mu)), append(std, float32(sd))
	}
	return mean, std, nil
}
