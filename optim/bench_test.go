package optim

import (
	"fmt"
	"testing"

	"github.com/deepscope/deepscope/nn"
	"github.com/deepscope/deepscope/tensor"
)

// benchModel has 4M parameters in tensors of ResNet-like sizes.
func benchModel() *toy {
	m := &toy{}
	for i, n := range []int{2359296, 1179648, 294912, 147456, 73728, 36864, 512, 512, 256, 64} {
		p := nn.NewParam(fmt.Sprint("p", i), tensor.Full(0.5, n))
		for j := range p.Grad.Data {
			p.Grad.Data[j] = float32(j%13) - 6
		}
		m.ps = append(m.ps, p)
	}
	return m
}

func benchStep(b *testing.B, make func(nn.Module) (Optimizer, error)) {
	for _, threads := range []int{1, 2, 4, 8} {
		b.Run(fmt.Sprintf("threads=%d", threads), func(b *testing.B) {
			defer tensor.SetThreads(tensor.Threads())
			tensor.SetThreads(threads)
			m := benchModel()
			o, _ := make(m)
			b.SetBytes(int64(nn.NumParams(m)) * 4)
			b.ReportAllocs()
			for b.Loop() {
				o.Step()
			}
		})
	}
}

func BenchmarkSGDMomentum(b *testing.B) {
	benchStep(b, func(m nn.Module) (Optimizer, error) {
		return NewSGD(m, SGDConfig{LR: 0.01, Momentum: 0.9, WeightDecay: 1e-4})
	})
}

func BenchmarkAdamW(b *testing.B) {
	benchStep(b, func(m nn.Module) (Optimizer, error) { return NewAdamW(m, AdamConfig{LR: 1e-3, WeightDecay: 0.01}) })
}

func BenchmarkClipGradNorm(b *testing.B) {
	m := benchModel()
	b.SetBytes(int64(nn.NumParams(m)) * 4)
	for b.Loop() {
		ClipGradNorm(m.ps, 1e9)
	}
}
