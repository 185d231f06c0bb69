// Package metrics holds the measures deepscope reports for a classifier on a
// labelled test set, each with a bootstrap confidence interval: accuracy,
// balanced accuracy, macro and weighted F1, per-class precision, recall and
// F1, one-vs-rest ROC AUC, the confusion matrix, expected calibration error
// with its reliability diagram, and negative log-likelihood. Multi-label
// sets (one yes/no decision per label, as ChestMNIST) get per-label AUC and
// F1, subset accuracy and Hamming loss.
//
// The package takes plain Go values (labels and predicted probabilities) and
// imports nothing else of deepscope, so it serves the training loop, the
// eval command and any program that already has predictions.
//
// Every statistic is computed from per-sample weights: the point estimate
// uses weight 1 for every sample, and a bootstrap resample uses the number of
// times each sample was drawn. AUC is the Mann-Whitney statistic over tie
// groups of a score order sorted once, so each resample costs O(n) per class
// rather than a fresh sort; 1000 resamples of a few thousand samples take
// well under a second. Resamples are spread over goroutines, each with its
// own random stream derived from the seed and the resample index, so the
// intervals depend only on the seed, never on the number of workers.
//
// Intervals are bootstrap percentile intervals, except for a proportion
// (accuracy, a class's precision or recall) estimated as exactly 0 or 1:
// there every resample repeats the estimate and the percentile interval
// shrinks to a point, so the exact Clopper-Pearson interval is given
// instead (for 244 of 244 right at 95%, [0.985, 1]). AUC of perfectly
// separated classes keeps its degenerate [1, 1].
//
// Undefined values (the AUC of a class with no positive sample, the
// precision of a class never predicted) are NaN in Go and null in JSON;
// averages skip them, as scikit-learn's do with its default labels.
//
// # JSON
//
// A Result marshals to one object. Keys present for every task:
//
//	task            "multiclass" or "multilabel"
//	n               number of samples
//	classes         class (or label) names, in column order
//	macro_f1        unweighted mean of the per-class F1 scores
//	macro_f1_ci     [lo, hi] bootstrap percentile interval
//	auc             macro mean of the one-vs-rest ROC AUCs
//	auc_ci          [lo, hi]
//	nll             mean negative log-likelihood (multi-label: mean binary
//	                cross-entropy per label), probabilities clipped at 1e-15
//	per_class       one object per class: class, support, predicted,
//	                precision, precision_ci, recall, recall_ci, f1, f1_ci,
//	                auc, auc_ci and roc {fpr, tpr, threshold}
//	bootstrap       {resamples, level, seed} that produced the intervals
//
// Multi-class only:
//
//	accuracy, accuracy_ci                    fraction of argmax predictions that are right
//	balanced_accuracy, balanced_accuracy_ci  mean recall over classes present
//	weighted_f1                              F1 averaged with support weights
//	ece, ece_ci                              expected calibration error
//	confusion                                counts, rows true class, columns predicted
//	reliability                              ECE bins: lo, hi, count, confidence, accuracy
//
// Multi-label only:
//
//	subset_accuracy, subset_accuracy_ci  fraction of samples with every label right
//	hamming_loss, hamming_loss_ci        fraction of (sample, label) decisions wrong
//	threshold                            probability above which a label is predicted
package metrics
