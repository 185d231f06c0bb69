package explain

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/deepscope/deepscope/models"
	"github.com/deepscope/deepscope/nn"
	"github.com/deepscope/deepscope/tensor"
)

// TestGradCAMFindsQuadrant checks Grad-CAM and Grad-CAM++ against a network
// whose answer is known: class 0 is red evidence, class 2 blue, and the
// image has a red patch in its top-left quadrant and a blue one in its
// bottom-right. Each class's map must sit on its own patch.
func TestGradCAMFindsQuadrant(t *testing.T) {
	const s = 16
	x := patchImage(s, 2, 2, 4, 0, 1)
	for y := 10; y < 14; y++ {
		for xx := 10; xx < 14; xx++ {
			x.Data[(y*s+xx)*3+2] = 1
		}
	}
	net := colourNet()
	cases := []struct {
		name   string
		f      func(nn.Module, *tensor.Tensor, int) (*tensor.Tensor, error)
		class  int
		y0, x0 int
	}{
		{"gradcam/red", GradCAM, 0, 0, 0},
		{"gradcam/blue", GradCAM, 2, 8, 8},
		{"gradcampp/red", GradCAMPlusPlus, 0, 0, 0},
		{"gradcampp/blue", GradCAMPlusPlus, 2, 8, 8},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			heat, err := c.f(net, x, c.class)
			if err != nil {
				t.Fatal(err)
			}
			if heat.Dims() != 2 || heat.Dim(0) != s || heat.Dim(1) != s {
				t.Fatalf("map shape %v, want [%d %d]", heat.Shape, s, s)
			}
			var mx float32
			for _, v := range heat.Data {
				if v < 0 || v > 1 {
					t.Fatalf("map value %g outside [0, 1]", v)
				}
				mx = max(mx, v)
			}
			if mx != 1 {
				t.Errorf("map maximum %g, want 1", mx)
			}
			if m := massIn(heat, c.y0, c.x0, s/2); m < 0.9 {
				t.Errorf("%.2f of the map's mass in the patch's quadrant, want >= 0.9", m)
			}
			i := argmax(heat.Data)
			if y, xx := i/s, i%s; y < c.y0 || y >= c.y0+s/2 || xx < c.x0 || xx >= c.x0+s/2 {
				t.Errorf("map peaks at (%d, %d), outside the quadrant at (%d, %d)", y, xx, c.y0, c.x0)
			}
		})
	}
}

// TestGradCAMNoEvidence checks that a class with no positive evidence gets
// an all-zero map, not a division by zero.
func TestGradCAMNoEvidence(t *testing.T) {
	x := tensor.Full(0.5, 1, 8, 8, 3) // grey: every feature is relu(0) = 0
	heat, err := GradCAM(colourNet(), x, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range heat.Data {
		if v != 0 {
			t.Fatalf("map value %g, want all zeros", v)
		}
	}
}

// TestGradCAMErrors checks that bad inputs and unsupported models give
// errors, not panics.
func TestGradCAMErrors(t *testing.T) {
	net := colourNet()
	cases := []struct {
		name  string
		m     nn.Module
		x     *tensor.Tensor
		class int
		want  string
	}{
		{"no batch dimension", net, tensor.New(8, 8, 3), 0, "one image"},
		{"two images", net, tensor.New(2, 8, 8, 3), 0, "one image"},
		{"wrong channels", net, tensor.New(1, 8, 8, 1), 0, "cannot take input"},
		{"class out of range", net, tensor.New(1, 8, 8, 3), 3, "out of range"},
		{"negative class", net, tensor.New(1, 8, 8, 3), -1, "out of range"},
		{"NaN input", net, tensor.Full(float32(nanValue()), 1, 8, 8, 3), 0, "NaN"},
		{"no feature split", nn.NewSequential(net.Conv, &nn.ReLU{}, &nn.GlobalAvgPool{}, net.FC), tensor.New(1, 8, 8, 3), 0, "Features"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := GradCAM(c.m, c.x, c.class)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
			if c.want == "one image" && !errors.Is(err, ErrInput) {
				t.Errorf("error %v does not wrap ErrInput", err)
			}
		})
	}
}

// TestGradCAMOnCellNet runs Grad-CAM on a real (untrained) CellNet, whose
// last feature map is 4x4 for a 32-pixel input, and checks the map's
// shape and range.
func TestGradCAMOnCellNet(t *testing.T) {
	net, err := models.New("cellnet", rand.New(rand.NewPCG(3, 4)), models.Spec{Classes: 4, Size: 32})
	if err != nil {
		t.Fatal(err)
	}
	x := tensor.Randn(rand.New(rand.NewPCG(5, 6)), 1, 1, 32, 32, 3)
	for class := range 4 {
		heat, err := GradCAM(net, x, class)
		if err != nil {
			t.Fatal(err)
		}
		if heat.Dim(0) != 32 || heat.Dim(1) != 32 {
			t.Fatalf("map shape %v", heat.Shape)
		}
		var mx float32
		for _, v := range heat.Data {
			if v < 0 || v > 1 {
				t.Fatalf("value %g outside [0, 1]", v)
			}
			mx = max(mx, v)
		}
		if mx != 0 && mx != 1 {
			t.Errorf("class %d: maximum %g, want 0 or 1", class, mx)
		}
	}
	for _, p := range nn.Params(net) {
		for _, g := range p.Grad.Data {
			if g != 0 {
				t.Fatalf("%s: gradient left at %g, want zero", p.Name, g)
			}
		}
	}
}
