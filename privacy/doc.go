// Package privacy holds what differentially private training (DP-SGD) needs
// beside the training loop: a Rényi-DP accountant for the Poisson-sampled
// Gaussian mechanism, the search for the noise that meets a privacy
// budget, per-sample gradient clipping without a batch-of-one loop, the
// Gaussian noise, and the ledger a run keeps of what it spent.
//
// The accountant follows Mironov, Talwar and Zhang, "Rényi Differential
// Privacy of the Sampled Gaussian Mechanism" (2019): the RDP of one step at
// integer orders from a finite binomial sum and at fractional orders from
// their convergent series, composed over steps by addition, then turned
// into (ε, δ) with the conversion of Balle et al., "Hypothesis Testing
// Interpretations and Renyi Differential Privacy" (2020, Proposition 12),
// the one TF-Privacy's dp_accounting and Opacus use. It is written here
// rather than taken from a library because no Go library provides it; its
// tests check it against a direct numerical integration of the Rényi
// divergence and against TF-Privacy's published figures.
//
// The neighbouring relation is add-or-remove-one example, as in
// TF-Privacy and Opacus: ε bounds what the trained weights reveal about
// any single training image being present or absent.
package privacy
