package transform_test

import (
	"fmt"
	"math/rand/v2"

	"github.com/deepscope/deepscope/tensor"
	"github.com/deepscope/deepscope/transform"
)

// A training pipeline: random crop, flips and turns (cells have no up),
// stain and colour jitter, then normalisation with the training set's
// statistics.
func ExampleCompose() {
	train := []*tensor.Tensor{tensor.Full(0.8, 64, 64, 3), tensor.Full(0.6, 64, 64, 3)}
	mean, std, err := transform.ChannelStatsOf(train)
	if err != nil {
		panic(err)
	}
	aug := transform.Compose(
		transform.RandomResizedCrop{H: 56, W: 56, Scale: [2]float64{0.6, 1}},
		transform.HorizontalFlip{P: 0.5},
		transform.Rotate90{},
		transform.HEDJitter{Theta: 0.05},
		transform.ColorJitter{Brightness: 0.2, Contrast: 0.2},
		transform.Normalize{Mean: mean, Std: std},
	)
	rng := rand.New(rand.NewPCG(1, 2))
	out := aug.Apply(train[0], rng)
	fmt.Println(out.Shape)
	// Output: [56 56 3]
}

// Stain normalisation is fitted once on reference images of the target
// look and then applied, before augmentation, to every image.
func ExampleMacenko() {
	var m transform.Macenko
	blank := tensor.Full(1, 32, 32, 3)
	err := m.Fit([]*tensor.Tensor{blank})
	fmt.Println(err != nil)
	// Output: true
}
