package models

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/deepscope/deepscope/nn"
	"github.com/deepscope/deepscope/tensor"
)

// TestGroupNormResNets checks the "group" normalisation of the ResNet
// family: the parameter names are batch norm's less its running
// statistics, every layer with parameters reports per-sample gradients,
// and one sample's output does not depend on the others in its batch.
func TestGroupNormResNets(t *testing.T) {
	for _, name := range []string{"cellnet", "resnet18-medmnist", "resnet50"} {
		spec := Spec{Classes: 4, Size: 28}
		batch, err := New(name, rand.New(rand.NewPCG(1, 1)), spec)
		if err != nil {
			t.Fatal(err)
		}
		spec.Norm = "group"
		group, err := New(name, rand.New(rand.NewPCG(1, 1)), spec)
		if err != nil {
			t.Fatal(err)
		}
		var want, got []string
		nn.Walk(batch, func(n string, p *nn.Param) {
			if p.Grad != nil {
				want = append(want, n)
			}
		})
		nn.Walk(group, func(n string, p *nn.Param) {
			got = append(got, n)
			if strings.Contains(n, "running_") {
				t.Errorf("%s: group norm has buffer %s", name, n)
			}
		})
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("%s: group-norm parameters %v, want batch norm's %v", name, got, want)
		}
		var visit func(string, nn.Module)
		visit = func(path string, m nn.Module) {
			if o, ok := m.(nn.Owner); ok && len(o.Params()) > 0 {
				if _, ok := m.(nn.PerSampler); !ok {
					t.Errorf("%s: %s (%T) has no per-sample gradients", name, path, m)
				}
			}
			if p, ok := m.(nn.Parent); ok {
				for _, c := range p.Children() {
					visit(path+"."+c.Name, c.Module)
				}
			}
		}
		visit(name, group)

		nn.SetTraining(group, false) // no dropout
		rng := rand.New(rand.NewPCG(2, 2))
		x := tensor.Randn(rng, 1, 3, 28, 28, 3)
		y0 := group.Forward(x).Clone()
		for i := 28 * 28 * 3; i < x.Len(); i++ {
			x.Data[i] = float32(rng.NormFloat64()) * 5
		}
		y1 := group.Forward(x)
		for j := 0; j < 4; j++ {
			if y0.Data[j] != y1.Data[j] {
				t.Errorf("%s: sample 0's logit %d moved from %g to %g when the other samples changed", name, j, y0.Data[j], y1.Data[j])
			}
		}
	}
	if _, err := New("cellnet", rand.New(rand.NewPCG(1, 1)), Spec{Classes: 2, Size: 28, Norm: "layer"}); err == nil {
		t.Error(`norm "layer" accepted`)
	}
}
