package explain_test

import (
	"fmt"
	"math/rand/v2"

	"github.com/deepscope/deepscope/explain"
	"github.com/deepscope/deepscope/models"
	"github.com/deepscope/deepscope/tensor"
)

// Grad-CAM of a CellNet's class 0 for one 32-pixel image. A trained
// model's image would come from train.Model.Prepare, with a batch
// dimension of 1 added by Reshape.
func ExampleGradCAM() {
	net, _ := models.New("cellnet", rand.New(rand.NewPCG(1, 2)), models.Spec{Classes: 8, Size: 32})
	x := tensor.Randn(rand.New(rand.NewPCG(3, 4)), 1, 1, 32, 32, 3)
	heat, err := explain.GradCAM(net, x, 0)
	if err != nil {
		fmt.Println(err)
		return
	}
	img := tensor.Full(0.8, 32, 32, 3) // the picture to draw on, values in [0, 1]
	fmt.Println(heat.Shape, explain.Overlay(img, heat).Bounds().Size())
	// Output: [32 32] (32,32)
}

// Methods are made by name; a model without a feature/head split cannot
// have Grad-CAM.
func ExampleNew() {
	m, _ := explain.New("ig", explain.Options{Steps: 32, Baseline: explain.BaselineBlur})
	fmt.Println(m.Name())
	net, _ := models.New("vit-tiny", rand.New(rand.NewPCG(1, 2)), models.Spec{Classes: 2, Size: 8})
	_, err := explain.GradCAM(net, tensor.New(1, 8, 8, 3), 0)
	fmt.Println(err != nil)
	// Output:
	// ig
	// true
}
