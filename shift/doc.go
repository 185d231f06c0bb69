// Package shift measures and counters the shift between laboratories that
// makes a model trained at one fail at another: a cell that fills a third
// of one lab's frame fills most of another's, stains differ in strength
// and hue, lamps and cameras in colour.
//
// To measure, Write makes simulated shifted copies of a dataset's split —
// rescaled, re-stained, re-lit — listed in one manifest whose "site" column
// names the shift each image received, so that deepscope eval and deepscope
// audit --group-by site show what each shift costs. These are simulations,
// built from one lab's images by fixed transforms (transform.Rescale,
// Restain, Relight); they show the direction and rough size of a model's
// sensitivity, not its accuracy on any real second laboratory.
//
// To counter, Preparation is a run's deterministic preparation of every
// image, applied alike in training, evaluation, prediction and serving:
// cell-centred cropping at a set multiple of the nucleus's size
// (transform.CellCrop), which makes the magnification of the input stop
// mattering, and stain normalisation to a target fitted on the training
// images (Reinhard or Macenko). Strong stain and colour augmentation (train's "strong"
// preset) is the third tool; Preparation leaves it to the training loop.
package shift
