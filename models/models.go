// Package models builds the networks deepscope trains: the ResNet family in
// torchvision's layout (with the MedMNIST variant for small images), CellNet
// (a compact residual network for 28-64 px cell images), ViT-tiny, U-Net for
// segmentation and a CNN+LSTM for time-lapse sequences. Each is an
// nn.Module whose parameter names follow the PyTorch implementation it
// mirrors, so state dicts move between the two.
package models

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"

	"github.com/deepscope/deepscope/nn"
)

// Spec says what a model is built for.
type Spec struct {
	Classes    int // output classes (or per-pixel classes for segmentation)
	InChannels int // 3 for RGB, 1 for grey; 0 means 3
	Size       int // input height and width in pixels
	Dropout    float64
	// Norm chooses the ResNet family's normalisation: "batch" (or "") for
	// batch norm, "group" for group norm, which treats each sample on its
	// own as per-sample gradients (DP-SGD) need. Parameter names are the
	// same ("bn1.weight"); group norm has no running statistics.
	Norm string
}

// builders maps a model name to its constructor.
var builders = map[string]func(rng *rand.Rand, s Spec) nn.Module{
	"resnet18-medmnist": func(rng *rand.Rand, s Spec) nn.Module {
		return NewResNet(rng, ResNetConfig{Blocks: [4]int{2, 2, 2, 2}, Classes: s.Classes, InChannels: s.InChannels, SmallInput: true, Dropout: s.Dropout, Norm: s.Norm})
	},
	"resnet18": func(rng *rand.Rand, s Spec) nn.Module {
		return NewResNet(rng, ResNetConfig{Blocks: [4]int{2, 2, 2, 2}, Classes: s.Classes, InChannels: s.InChannels, TorchInit: true, Dropout: s.Dropout, Norm: s.Norm})
	},
	"resnet34": func(rng *rand.Rand, s Spec) nn.Module {
		return NewResNet(rng, ResNetConfig{Blocks: [4]int{3, 4, 6, 3}, Classes: s.Classes, InChannels: s.InChannels, TorchInit: true, Dropout: s.Dropout, Norm: s.Norm})
	},
	"resnet50": func(rng *rand.Rand, s Spec) nn.Module {
		return NewResNet(rng, ResNetConfig{Blocks: [4]int{3, 4, 6, 3}, Bottleneck: true, Classes: s.Classes, InChannels: s.InChannels, TorchInit: true, Dropout: s.Dropout, Norm: s.Norm})
	},
	"cellnet": func(rng *rand.Rand, s Spec) nn.Module { return NewCellNet(rng, s) },
	"vit-tiny": func(rng *rand.Rand, s Spec) nn.Module {
		patch := 4
		if s.Size >= 64 {
			patch = 8
		}
		return NewViT(rng, ViTConfig{Size: s.Size, Patch: patch, InChannels: s.InChannels, Classes: s.Classes, Dim: 192, Depth: 12, Heads: 3})
	},
	"unet": func(rng *rand.Rand, s Spec) nn.Module {
		return NewUNet(rng, UNetConfig{InChannels: s.InChannels, Classes: s.Classes, Base: 32, Depth: 4})
	},
	"cnn-lstm": func(rng *rand.Rand, s Spec) nn.Module {
		return NewSeqNet(rng, SeqNetConfig{InChannels: s.InChannels, Classes: s.Classes})
	},
}

// Names returns the model names New accepts, sorted.
func Names() []string {
	ns := make([]string, 0, len(builders))
	for n := range builders {
		ns = append(ns, n)
	}
	sort.Strings(ns)
	return ns
}

// New builds the named model for spec with weights drawn from rng.
func New(name string, rng *rand.Rand, spec Spec) (nn.Module, error) {
	b, ok := builders[name]
	if !ok {
		return nil, fmt.Errorf("models: unknown model %q (known: %s)", name, strings.Join(Names(), ", "))
	}
	if spec.Classes < 1 {
		return nil, fmt.Errorf("models: %s needs at least one class, got %d", name, spec.Classes)
	}
	if spec.InChannels == 0 {
		spec.InChannels = 3
	}
	if spec.Norm != "" && spec.Norm != "batch" && spec.Norm != "group" {
		return nil, fmt.Errorf("models: norm %q: want batch or group", spec.Norm)
	}
	if name == "vit-tiny" && (spec.Size < 8 || spec.Size%4 != 0) {
		return nil, fmt.Errorf("models: vit-tiny needs an input size divisible by its patch size, got %d", spec.Size)
	}
	if name == "unet" && spec.Size%16 != 0 {
		return nil, fmt.Errorf("models: unet needs an input size divisible by 16, got %d", spec.Size)
	}
	return b(rng, spec), nil
}
