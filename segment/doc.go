// Package segment finds cell nuclei (or cells) as instances: it trains a
// U-Net to label every pixel background, interior or boundary and, with
// the hv head (the default), to give it HoVer-Net's horizontal and
// vertical distances to its object's centroid (or, with the star-convex
// head, an object probability and its distances to the object's edge
// along fixed directions, as StarDist),
// turns that output into one label per object, measures the objects, and
// scores the result with the 2018 Data Science Bowl's metric.
//
// The parts, in the order data flows through them:
//
//   - Labels, ReadLabels, WriteLabels, ReadMasks: instance label images
//     (16-bit PNG, 0 = background, k = object k, as Cellpose and StarDist
//     store them) and folders of one binary mask per object (as the Data
//     Science Bowl shipped them), checked against their image.
//   - Open: a dataset folder in either layout, each image paired with its
//     labels; a missing partner is an error naming the file.
//   - Normalize, NormalizeColour and Targets: the network's input (grey, or
//     the three colour channels; per-image percentile scaling, dark objects
//     on a bright background inverted) and its per-pixel classes.
//   - Instances: interior components as seeds (for the hv head, cut where
//     the distance maps fall steeply, hvEnergy), grown into the foreground
//     in order of rising boundary probability (a watershed), unseeded
//     foreground kept as objects of its own; for the star-convex head
//     (Config.Head "star"), each confident pixel's polygon, with
//     non-maximum suppression (starInstances).
//   - Segment: tiled inference with overlapping windows for images of any
//     size, stitching objects that cross window borders.
//   - Train, Load, Model: the training loop (random crops with flips and
//     quarter turns, optionally zoomed, placed on objects or balanced
//     across kinds of image, AdamW, optionally U-Net's contact weight map
//     in the loss (contactMap), checkpoints written atomically, exact
//     resume, a seeded hold-out recorded in run.json) and the trained
//     model, its last weights.
//   - TuneRun: the two thresholds (foreground and seed, or object
//     probability and NMS overlap), the smallest object kept, the least
//     mean confidence an object needs (three-class and hv heads) and the
//     maps' fall a seed may have (hv head), chosen on the
//     hold-out, as StarDist's optimize_thresholds, with a
//     cross-validated score to say what the choice is worth on images it
//     was not fitted to.
//   - PredictFiles: label PNGs, overlays and per-object measurements
//     (Measure) of a folder of images.
//   - Score, Evaluate, WriteReport: the Data Science Bowl metric, AP at IoU
//     0.5, Dice, count error and the errors at IoU 0.5 by kind (missed,
//     merged, split, loose, spurious), and the HTML report with the worst
//     images.
//
// By default colour images are reduced to grey: one network then serves
// fluorescence and brightfield alike (see Normalize), at the price of
// ignoring stain colour. Config.Colour keeps the three channels instead
// (see NormalizeColour), so that hue can tell a stained nucleus from its
// cytoplasm; grey images are then repeated into three channels.
//
// Instance extraction (the star-convex polygons and HoVer-Net's maps
// included: StarDist's and HoVer-Net's own code is Python and C),
// region measurements, the distance transform of
// the contact weights and the metric are written here rather than taken
// from a library: no maintained pure-Go package does them, and each is a page of code whose exact definition (which IoU
// counts as a match, how a perimeter is measured) matters for comparing
// figures with other tools, so it is better spelt out.
package segment
