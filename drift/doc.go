// Package drift watches whether the images a served model sees still look
// like the ones it was trained on.
//
// A Reference summarises the training distribution: per image, the mean
// and spread of each colour channel, a stain summary in optical density
// (the mean absorbance of the stained pixels per channel and the stained
// fraction of the image), the model's confidence, and an embedding (the
// pooled last feature map of networks with a Features/Head split, such as
// the ResNet family and CellNet, else the logits). A run builds it from its
// validation split and caches it beside the weights (drift.json).
//
// A Monitor keeps a sliding window of the same summaries for served images
// and compares it with the reference: a two-sample Kolmogorov–Smirnov test
// and the population stability index (PSI) per scalar feature, and the
// maximum mean discrepancy (MMD) with a Gaussian kernel on the embeddings,
// whose p-value comes from a permutation test. The window is in alert when
// any KS test (Bonferroni-corrected over the features) or the MMD test
// rejects at the configured level.
//
// These few tests are written here rather than taken from a library
// because no maintained pure-Go package offers a permutation MMD test, and
// KS and PSI are a few dozen lines each.
package drift
