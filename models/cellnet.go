package models

import (
	"math/rand/v2"
)

// NewCellNet builds CellNet, deepscope's compact network for 28-64 px
// single-cell images. It is a narrow residual network in ResNet's layout:
// a 3x3 stem of 32 channels (stride 2 when the input is larger than 32 px,
// so a 64 px cell image costs about what a 28 px one does), four stages of
// basic blocks of 32, 64, 128 and 256 channels (1, 2, 2, 1 blocks), global
// average pooling, dropout and a linear head. At 28 px a forward pass is
// about a seventh of the MedMNIST ResNet-18's multiply-adds, which is what
// makes training to full accuracy on a laptop's CPU a matter of minutes.
func NewCellNet(rng *rand.Rand, s Spec) *ResNet {
	stem := 1
	if s.Size > 32 {
		stem = 2
	}
	drop := s.Dropout
	if drop == 0 {
		drop = 0.1
	}
	return NewResNet(rng, ResNetConfig{
		Blocks: [4]int{1, 2, 2, 1}, Classes: s.Classes, InChannels: s.InChannels,
		SmallInput: true, StemStride: stem, Width: 32, Dropout: drop, TorchInit: true, Norm: s.Norm,
	})
}
