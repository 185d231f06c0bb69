package data

import (
	"math/rand/v2"

	"github.com/deepscope/deepscope/tensor"
)

// Transform is a random augmentation applied to each training image after
// preprocessing (and after the Loader's cache), before normalisation.
//
// img is an [H, W, C] image with values in [0, 1]; it is the Loader's
// scratch memory, so Apply may change it in place and return it, or return
// a new tensor, but must not keep it. rng is seeded from the loader's seed,
// the epoch and the item's index alone, so every draw is the same for any
// number of workers and for a run resumed mid-epoch. Every image of a batch
// must come out with the same shape. Apply is called from several
// goroutines at once.
type Transform interface {
	Apply(img *tensor.Tensor, rng *rand.Rand) *tensor.Tensor
}

// TransformFunc adapts a function to the Transform interface.
type TransformFunc func(img *tensor.Tensor, rng *rand.Rand) *tensor.Tensor

// Apply calls f(img, rng).
func (f TransformFunc) Apply(img *tensor.Tensor, rng *rand.Rand) *tensor.Tensor { return f(img, rng) }

// mix is splitmix64's finaliser: a bijection that scatters nearby inputs
// (epoch 3 and 4, item 10 and 11) to unrelated seeds.
func mix(x uint64) uint64 {
	x += 0x9E3779B97F4A7C15
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9
	x = (x ^ (x >> 27)) * 0x94D049BB133111EB
	return x ^ (x >> 31)
}

// SampleRand seeds pcg with the stream for one item in one epoch: the
// stream the Loader gives that item's Transform. It is exported so that code
// outside the Loader (tests, a one-off preview) can replay an augmentation.
func SampleRand(pcg *rand.PCG, seed uint64, epoch, index int) {
	pcg.Seed(mix(seed^0xA0761D6478BD642F), mix(uint64(epoch)*0xE7037ED1A0B428DB^uint64(index)))
}

// epochOrder fills order with the item order of an epoch: 0..n-1, shuffled
// by a stream that depends only on the seed and the epoch.
func epochOrder(order []int, shuffle bool, seed uint64, epoch int) {
	for i := range order {
		order[i] = i
	}
	if shuffle {
		rng := rand.New(rand.NewPCG(mix(seed), mix(uint64(epoch)+0x632BE59BD9B4E019)))
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	}
}
