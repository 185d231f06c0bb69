// Package audit measures whether a classifier serves every group of its
// images equally well: sites, scanners, staining batches or patient groups,
// named by a manifest's columns. For each group it gives the support,
// accuracy, macro one-vs-rest AUC and expected calibration error (from
// package metrics), and per class the selection rate P(ŷ=c), the true
// positive rate P(ŷ=c | y=c) and the false positive rate P(ŷ=c | y≠c),
// each with a bootstrap interval.
//
// Between groups it gives the gap (largest minus smallest) and the ratio
// (smallest over largest) of four criteria, one-vs-rest per class in the
// multi-class case:
//
//	accuracy            the fraction right, over all classes at once
//	demographic_parity  the selection rate of each class
//	equal_opportunity   the true positive rate of each class
//	equalized_odds      the larger of the true and false positive rate gaps of each class
//
// A criterion's verdict is taken on its worst class. Demographic parity
// compares what the model says regardless of the truth, so it is only a
// fair test where the classes are equally common in every group (a site
// that sees more leukaemias should see more blasts predicted); the other
// criteria condition on the true class and hold whatever the prevalence.
//
// Small groups decide nothing: a group with fewer than Config.MinSupport
// images is shown but marked too small and left out of every gap, and a
// per-class rate is left out when fewer than Config.MinClassSupport images
// stand behind it or its interval is wider than Config.MaxWidth. A gap
// needs two judged groups; a criterion with a limit but no judged gap is
// "inconclusive", which fails the audit, so that a pipeline gated on it
// cannot pass for lack of data.
//
// Intervals are percentile bootstrap intervals from resamples drawn within
// each group (a stratified bootstrap: group sizes stay fixed, as they are
// fixed by the study design, not drawn). The interval of a gap is that of
// the difference between the two groups found at its ends, so it reaches
// below zero when they do not truly differ (the spread of each resample,
// never negative, would hide that); the point estimate of a gap over many
// groups is still biased upwards, as any maximum of noisy values is. A rate
// estimated as exactly 0 or 1 gets
// the exact Clopper-Pearson interval instead of a collapsed percentile one,
// as package metrics does. The same seed gives the same intervals.
package audit
