// Package data holds image datasets and the machinery that feeds them to
// training: indexes of labelled images (ImageFolder directories, CSV
// manifests, MedMNIST .npz archives), image decoding, the fixed
// preprocessing a run is trained with (centre crop and antialiased resize),
// seeded leakage-free splits, dataset checks (unreadable files, exact and
// near duplicates, class balance), MedMNIST downloads, and the Loader that
// decodes, caches, augments and batches images in parallel.
//
// Images are float32 tensors [H, W, C] with values in [0, 1] and C = 1 or 3;
// batches are [N, H, W, C] (channels-last, as everywhere in deepscope).
//
// Some pieces are written here by hand although a library exists elsewhere:
// the .npy reader (numpy's format is a short header and raw bytes, and no
// pure-Go package for it is in the standard library or golang.org/x), the
// separable resampler (it crops with fractional boxes and reuses its weights
// across images, which golang.org/x/image/draw does not do) and the DCT
// perceptual hash (64 cosines of a 32x32 thumbnail).
package data
