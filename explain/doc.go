// Package explain says which pixels of an image a trained classifier's
// decision rests on. It holds gradient methods (Grad-CAM and Grad-CAM++,
// vanilla saliency, SmoothGrad, integrated gradients), perturbation methods
// (occlusion, LIME and Kernel SHAP on SLIC superpixels), the tests that an
// explanation means something (deletion and insertion curves; the
// model-parameter randomisation check of Adebayo et al., 2018) and Overlay,
// which draws a map over its image.
//
// Every method takes one normalised image x [1, H, W, C] (what
// train.Model.Prepare gives, with a leading batch dimension) and a class,
// and returns a map [H, W] in which larger values mean more evidence for the
// class. Gradient methods explain the class logit; perturbation methods
// explain the class probability (see Output). Methods that look at many
// altered copies of x run them in batches of at most Options.Batch images,
// so memory stays bounded however many copies a method draws.
//
// A model keeps what its last forward pass needs for its backward pass, so
// a model must not be used by two explanations, or an explanation and a
// prediction, at the same time. Methods put the model in evaluation mode and
// leave its parameter gradients at zero.
//
// The methods are written here rather than taken from a library because no
// Go library offers them, and each is short: its paper's equations over
// the model's own Forward and Backward.
package explain
