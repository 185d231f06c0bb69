package models

import (
	"math/rand/v2"
	"testing"

	"github.com/deepscope/deepscope/nn"
	"github.com/deepscope/deepscope/tensor"
)

// TestSharedGradsMatchOwnBuffers checks that a ResNet whose blocks share
// their gradients' storage (shareBlockGrads) computes, over two training
// steps, bit for bit the gradients of the same network with a buffer per
// layer: the sharing changes where values live, never what they are. Both
// add conv1's input gradient onto the shortcut's (addShortcut), so they do
// the same arithmetic in the same order.
func TestSharedGradsMatchOwnBuffers(t *testing.T) {
	for _, name := range []string{"cellnet", "resnet18-medmnist"} {
		build := func() *ResNet {
			m, err := New(name, rand.New(rand.NewPCG(3, 4)), Spec{Classes: 5, Size: 16})
			if err != nil {
				t.Fatal(err)
			}
			return m.(*ResNet)
		}
		shared, own := build(), build()
		for _, layer := range own.Layers {
			for _, m := range layer.Layers {
				b := m.(*BasicBlock)
				b.BN2.(*nn.BatchNorm2d).ShareGrads(nil, nil)
				b.Conv1.ShareInputGrad(nil)
				b.Conv2.ShareInputGrad(nil)
				if b.Downsample != nil {
					b.Downsample.Layers[1].(*nn.BatchNorm2d).ShareGrads(nil, nil)
					b.Downsample.Layers[0].(*nn.Conv2d).ShareInputGrad(nil)
				}
			}
		}
		rng := rand.New(rand.NewPCG(5, 6))
		for step := range 2 {
			x := tensor.Randn(rng, 1, 3, 16, 16, 3)
			dy := tensor.Randn(rng, 1, 3, 5)
			var dx [2][]float32
			for i, m := range []*ResNet{shared, own} {
				nn.ZeroGrad(m)
				m.Forward(x)
				dx[i] = append([]float32(nil), m.Backward(dy).Values()...)
			}
			for i := range dx[0] {
				if dx[0][i] != dx[1][i] {
					t.Fatalf("%s step %d: input gradient %d: shared %g, own %g", name, step, i, dx[0][i], dx[1][i])
				}
			}
			var ps [2][]*nn.Param
			for i, m := range []*ResNet{shared, own} {
				nn.Walk(m, func(_ string, p *nn.Param) { ps[i] = append(ps[i], p) })
			}
			for k, p := range ps[0] {
				if p.Grad == nil {
					continue
				}
				for i, g := range p.Grad.Values() {
					if g != ps[1][k].Grad.Values()[i] {
						t.Fatalf("%s step %d: gradient of %s differs at %d", name, step, p.Name, i)
					}
				}
			}
		}
	}
}
