// Package fl trains one model across sites that keep their images: federated
// learning in rounds. Each round a server sends the global weights to a
// cohort of clients; each client trains them for a few epochs on its own
// data and returns only the change (its update) with its number of
// training images; the server combines the updates into the next global
// model.
//
// The pieces, from the inside out:
//
//   - Layout flattens the floating-point entries of a model's state dict
//     (parameters and BatchNorm running statistics) into one vector, the
//     form every update takes, and checks uploaded updates: wrong names or
//     shapes, NaN or Inf are rejected with an error that says which tensor.
//   - Combine aggregates a round's updates: FedAvg (mean weighted by sample
//     counts; FedProx is FedAvg with a proximal term on the clients),
//     coordinate-wise median or trimmed mean (robust to a few bad clients),
//     after dropping updates whose norm is far above the others'. With
//     DPConfig it is client-level differential privacy at the server
//     (DP-FedAvg): each update is clipped to a norm bound, the unweighted
//     mean gets Gaussian noise.
//   - Secure aggregation by pairwise masking (MaskUpdate, SumMasked): every
//     pair of clients in a cohort derives a shared seed from an X25519 key
//     agreement and adds (or subtracts) the same pseudo-random mask, in
//     fixed point modulo 2^32, so the masks cancel exactly in the sum and
//     the server learns the sum of the updates but no single one.
//   - TrainLocal, a client's local training: cross-entropy, an optimizer
//     step per batch, and FedProx's proximal term.
//   - Server and RunClient speak HTTP over mutual TLS (MakeCerts writes a
//     CA and certificates for tests and demos); Simulate runs the same
//     rounds in one process over a partition of one dataset (IID, Dirichlet
//     label skew, or by a site column); WritePartition lays such a
//     partition out as site folders for a networked demonstration.
//
// The round protocol: a client polls GET /v1/round; while the round is in
// its join phase it joins (POST /v1/join) with its sample count, its image
// statistics (first round only) and, under secure aggregation, a fresh
// public key. Once MinClients have joined and a short join window has
// passed (or every client the server has seen has joined), the cohort is
// fixed and the round moves to training: cohort members download the
// weights (GET /v1/weights, safetensors), train, and upload their update
// (POST /v1/update, safetensors). The server aggregates when every cohort
// member has reported, or when the round's deadline passes with at least
// MinClients updates; a round that misses its quorum (or, under secure
// aggregation, loses any member, because the masks of a missing client do
// not cancel) is abandoned, the global model is left as it was and the
// same round is run again with a new cohort. After every round the global
// model and the round number are written together to one file through a
// rename, so a server that is restarted resumes at its round.
//
// The protocol, the masking and the partitions are written here rather
// than taken from a framework: the Go federated-learning projects need a
// Python side or gRPC code generation, and what is needed fits in a few
// hundred lines of the standard library (crypto/tls, crypto/ecdh,
// crypto/x509, net/http).
package fl
