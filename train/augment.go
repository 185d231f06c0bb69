package train

import (
	"github.com/deepscope/deepscope/data"
	"github.com/deepscope/deepscope/transform"
)

// augmentNames lists the augmentation presets, weakest first.
var augmentNames = []string{"none", "light", "standard", "strong"}

// Augmentation returns the training augmentation of a preset for size×size
// inputs, or nil for "none". Cells have no up and no left, so every preset
// past "none" draws a random flip and a multiple of 90 degrees; "standard"
// adds a mild colour jitter for stain and lamp variation; "strong" adds free
// rotation, a slight zoom, haematoxylin-eosin stain jitter and defocus blur,
// for data from several sites or scanners.
func Augmentation(preset string, size int) data.Transform {
	geo := []transform.Transform{transform.HorizontalFlip{P: 0.5}, transform.Rotate90{}}
	switch preset {
	case "light":
		return transform.Compose(geo...)
	case "standard":
		return transform.Compose(append(geo,
			transform.ColorJitter{Brightness: 0.1, Contrast: 0.1, Saturation: 0.1, Hue: 0.02})...)
	case "strong":
		return transform.Compose(append(geo,
			transform.Rotate{MaxDegrees: 45, Fill: transform.FillBorderMean},
			transform.RandomResizedCrop{H: size, W: size, Scale: [2]float64{0.75, 1}, Ratio: [2]float64{0.9, 1.1}},
			transform.ColorJitter{Brightness: 0.2, Contrast: 0.2, Saturation: 0.2, Hue: 0.04},
			transform.HEDJitter{Theta: 0.03},
			transform.RandomApply(0.3, transform.GaussianBlur{Sigma: [2]float64{0.1, 1.0}}))...)
	}
	return nil
}
