package nn

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/deepscope/deepscope/tensor"
)

// torchCase is one case of testdata/spatial_torch.json, written by
// testdata/spatial_torch.py: a layer's configuration, parameters and data,
// and PyTorch's outputs and gradients (maps channels-last).
type torchCase struct {
	Name   string
	Kind   string
	Cfg    map[string]any
	Train  bool
	XShape []int `json:"x_shape"`
	X      []float32
	Params map[string][]float32
	YShape []int `json:"y_shape"`
	Y, Dy  []float32
	Dx     []float32
	Grads  map[string][]float32
	After  map[string][]float32
}

func (c torchCase) int(k string) int { return int(c.Cfg[k].(float64)) }

// module builds the deepscope layer the case describes.
func (c torchCase) module(t *testing.T) Module {
	rng := rand.New(rand.NewPCG(1, 1))
	conv := func() ConvConfig {
		return ConvConfig{In: c.int("In"), Out: c.int("Out"), Kernel: c.int("Kernel"), Stride: c.int("Stride"),
			Padding: c.int("Padding"), Groups: c.int("Groups"), Bias: c.Cfg["Bias"].(bool)}
	}
	switch c.Kind {
	case "conv":
		return NewConv2d(rng, conv())
	case "convT":
		return NewConvTranspose2d(rng, ConvTransposeConfig{conv(), c.int("OutputPadding")})
	case "bn":
		l := NewBatchNorm2d(c.int("C"))
		l.NumBatchesTracked.Value.Data[0] = 3
		return l
	case "gn":
		return NewGroupNorm(c.int("Groups"), c.int("C"))
	case "maxpool":
		return NewMaxPool2d(c.int("K"), c.int("S"), c.int("P"))
	case "avgpool":
		return NewAvgPool2d(c.int("K"), c.int("S"), c.int("P"))
	case "adaptive":
		return NewAdaptiveAvgPool2d(c.int("OH"), c.int("OW"))
	case "upsample":
		return NewUpsample(c.int("Scale"), c.Cfg["Mode"].(string))
	}
	t.Fatalf("%s: unknown kind %q", c.Name, c.Kind)
	return nil
}

func assertNear(t *testing.T, what string, got, want []float32) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d values, PyTorch %d", what, len(got), len(want))
		return
	}
	for i, v := range got {
		if d := math.Abs(float64(v - want[i])); d > 2e-5*(1+math.Abs(float64(want[i]))) {
			t.Errorf("%s[%d] = %.7g, PyTorch %.7g", what, i, v, want[i])
			return
		}
	}
}

// TestSpatialLayersMatchPyTorch loads PyTorch's parameters into each layer
// and compares the output, the input gradient, the parameter gradients and
// BatchNorm's updated buffers with PyTorch's.
func TestSpatialLayersMatchPyTorch(t *testing.T) {
	raw, err := os.ReadFile("testdata/spatial_torch.json")
	if err != nil {
		t.Fatal(err)
	}
	var fix struct{ Cases []torchCase }
	if err := json.Unmarshal(raw, &fix); err != nil {
		t.Fatal(err)
	}
	if len(fix.Cases) == 0 {
		t.Fatal("no cases in testdata/spatial_torch.json")
	}
	for _, c := range fix.Cases {
		m := c.module(t)
		params := map[string]*Param{}
		Walk(m, func(name string, p *Param) { params[name] = p })
		for name, v := range c.Params {
			p, ok := params[name]
			if !ok {
				t.Fatalf("%s: PyTorch parameter %q missing", c.Name, name)
			}
			p.Value.CopyFrom(tensor.FromSlice(v, p.Value.Shape...))
		}
		SetTraining(m, c.Train)
		ZeroGrad(m)
		y := m.Forward(tensor.FromSlice(c.X, c.XShape...))
		if !equalInts(y.Shape, c.YShape) {
			t.Fatalf("%s: output shape %v, PyTorch %v", c.Name, y.Shape, c.YShape)
		}
		assertNear(t, c.Name+": y", y.Values(), c.Y)
		dx := m.Backward(tensor.FromSlice(c.Dy, c.YShape...))
		assertNear(t, c.Name+": dx", dx.Values(), c.Dx)
		for name, g := range c.Grads {
			assertNear(t, c.Name+": grad "+name, params[name].Grad.Values(), g)
		}
		for name, v := range c.After {
			assertNear(t, c.Name+": "+name+" after the step", params[name].Value.Values(), v)
		}
	}
}
