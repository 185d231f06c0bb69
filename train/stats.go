package train

import (
	"fmt"
	"math/rand/v2"

	"github.com/deepscope/deepscope/data"
	"github.com/deepscope/deepscope/tensor"
	"github.com/deepscope/deepscope/transform"
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
	// Each batch [B, H, W, C] is fed to the statistics as one tall image.
	var loadErr error
	batches := func(yield func(*tensor.Tensor) bool) {
		for b, err := range l.Epoch(0, 0) {
			if err != nil {
				loadErr = err
				return
			}
			if !yield(b.X.Reshape(-1, b.X.Dim(2), b.X.Dim(3))) {
				return
			}
		}
	}
	mean, std, err = transform.ChannelStats(batches)
	if loadErr != nil {
		return nil, nil, loadErr
	}
	if err != nil {
		return nil, nil, fmt.Errorf("train: channel statistics: %w", err)
	}
	return mean, std, nil
}
