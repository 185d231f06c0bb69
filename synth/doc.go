// Package synth generates microscopy-like images of peripheral blood
// smears, one white cell (or a platelet cluster) per image among red blood
// cells, for the demo and the tests: no real data is committed to the
// repository, yet the pipeline needs images whose classes a network must
// learn from shape, texture and colour together.
//
// The drawing is physical in a small way: every structure adds optical
// density (absorbance) to a stain-coloured layer, and the image is the
// illumination times exp(-density), as light through a stained smear is
// (Beer–Lambert). Overlapping cells therefore darken as real ones do, and
// stain normalisation and HED jitter (package transform) act on these
// images as they act on real ones. Classes differ as they do under a
// Romanowsky stain: nucleus shape and lobes, cell size, cytoplasm colour
// and granules. Their sizes and colours overlap on purpose, and stain,
// illumination, focus and noise vary by image and by acquisition site, so
// no single summary statistic separates the classes (see the tests).
//
// Everything is seeded: the same Config gives the same files, byte for
// byte, whatever the number of workers.
package synth
