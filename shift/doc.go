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
// sensitivity, not its accuracy on any real second laboratory. Every
// directory Write fills carries a README.txt that says so.
//
// To counter, Preparation is a run's deterministic preparation of every
// image, applied alike in training, evaluation, prediction and serving:
// cell-centred cropping at a set multiple of the nucleus's size
// (transform.CellCrop), which makes the magnification of the input stop
// mattering, and stain normalisation to a target fitted on the training
// images (Reinhard or Macenko). Strong stain and colour augmentation
// (train's "strong" preset) and group-balanced loss weights (train's
// balance_by) are the other tools; they belong to the training loop.
//
// # Workflow
//
//	deepscope data shift --data DATA --out shifted --shifts rescale:2,rescale:0.6,restain,relight,site
//	deepscope audit --model RUN --data shifted/manifest.csv --group-by site
//	deepscope train --data DATA --cell-crop 3 --stain-norm reinhard --out RUN2
//	deepscope audit --model RUN2 --data shifted/manifest.csv --group-by site
//
// "data shift --fraction 0.5 --shifts site" instead makes a simulated second
// site from half of each class; "--split all" copies the training and
// validation images too, for a simulated two-site training set.
//
// # What was measured
//
// On synthetic cells (package synth: 2,000 images at 64 px from two
// sites; CellNet at 48 px, 5 epochs, batch 64, seed 1, one thread), the
// test split's 400 images and their simulated copies (site: restain and
// relight together; rescale:1.6), accuracy by deepscope audit:
//
//	training                      unshifted  site shift  rescale:1.6  largest gap [95%]
//	plain                         0.880      0.738       0.605        0.275 [0.223, 0.330]
//	stain-norm reinhard           0.910      0.780       0.470        0.440 [0.385, 0.495]
//	cell-crop 3                   0.953      0.843       0.917        0.110 [0.070, 0.153]
//	cell-crop 3, reinhard         0.968      0.948       0.938        0.030 [0.000, 0.058]
//	augment strong                0.802      0.545       0.583        0.257 [0.198, 0.320]
//	all four tools                0.927      0.887       0.882        0.045 [0.005, 0.083]
//
// The cell crop closes the magnification gap and, with Reinhard after it,
// the stain gap. Reinhard alone makes the zoomed-in copies worse: it
// matches whole-image colour statistics, which change with how much of
// the frame the cell fills; hence Preparation crops first. Strong
// augmentation needs more than 5 epochs to pay (it lowered every figure
// here), and balancing by site did not help either on these data (see
// train.GroupWeights). Each figure is one training run; the intervals
// cover the test sample, not the run-to-run spread.
package shift
