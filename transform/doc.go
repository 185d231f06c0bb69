// Package transform holds the image transforms of deepscope's input
// pipeline: geometric augmentations (resize with antialiasing, crops, flips,
// 90-degree and free rotations), photometric ones (colour jitter, Gaussian
// blur and noise, HED stain jitter), stain normalisation (Macenko, Reinhard)
// and per-channel normalisation with statistics from the training images.
//
// An image is a *tensor.Tensor of shape [H, W, C] with C = 3 (RGB) or 1
// (grey), channels-last, values in [0, 1] until Normalize maps them to zero
// mean and unit variance. Every transform implements Transform; random ones
// draw all their randomness from the *rand.Rand they are given, so the same
// generator state gives the same output, on any machine and with any number
// of loader workers. Apply never changes its input (a loader may cache the
// decoded images it passes in); it returns a new tensor, or the input itself
// when the transform leaves the image as it is. Transforms hold no mutable
// state once configured (or fitted), so one value may serve many loader
// goroutines at once.
//
// The names and parameter conventions follow torchvision.transforms
// (RandomResizedCrop's scale and ratio, ColorJitter's factors), so recipes
// carry over. The code is written here rather than taken from an image
// library because none works on float32 channels-last tensors, and because
// the stain operations (colour deconvolution, Macenko, Reinhard) exist in no
// Go library; resizing follows Pillow's separable, support-widened filters,
// which antialias when shrinking.
package transform
