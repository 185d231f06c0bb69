package privacy

import (
	crand "crypto/rand"
	"math/rand/v2"

	"github.com/deepscope/deepscope/nn"
	"github.com/deepscope/deepscope/tensor"
)

// SecureRand returns a generator seeded from the operating system's
// cryptographic source (ChaCha8, itself a cryptographically strong
// stream). DP-SGD draws its batches and its noise from such a stream and
// never stores the seed: anyone who knew it could replay the noise and
// subtract it, or tell which images each step used.
func SecureRand() *rand.Rand {
	var seed [32]byte
	if _, err := crand.Read(seed[:]); err != nil {
		panic("privacy: crypto/rand: " + err.Error()) // never fails on supported systems
	}
	return rand.New(rand.NewChaCha8(seed))
}

// noiseChunk is the number of values one goroutine's noise stream fills.
const noiseChunk = 1 << 15

// AddNoise adds independent Gaussian noise of standard deviation std to
// every gradient value of params, then multiplies the gradients by scale:
// g ← (g + N(0, std²))·scale. The chunks of values are filled in parallel,
// each from its own ChaCha8 stream keyed by 32 bytes drawn from rng, so
// the result depends only on rng, not on the number of threads.
func AddNoise(params []*nn.Param, std, scale float64, rng *rand.Rand) {
	type chunk struct {
		g    []float32
		seed [32]byte
	}
	var chunks []chunk
	for _, p := range params {
		g := p.Grad.Values()
		for lo := 0; lo < len(g); lo += noiseChunk {
			c := chunk{g: g[lo:min(lo+noiseChunk, len(g))]}
			for i := 0; i < 32; i += 8 {
				v := rng.Uint64()
				for k := range 8 {
					c.seed[i+k] = byte(v >> (8 * k))
				}
			}
			chunks = append(chunks, c)
		}
	}
	tensor.Parallel(len(chunks), 1, func(lo, hi int) {
		for _, c := range chunks[lo:hi] {
			r := rand.New(rand.NewChaCha8(c.seed))
			for i, v := range c.g {
				c.g[i] = float32((float64(v) + r.NormFloat64()*std) * scale)
			}
		}
	})
}

// PoissonSample appends to dst[:0] each index in [0, n) independently
// with probability q, in increasing order, and returns it: the sampling
// whose privacy amplification the accountant assumes. The batch size is
// random, q·n on average.
func PoissonSample(dst []int, n int, q float64, rng *rand.Rand) []int {
	dst = dst[:0]
	for i := 0; i < n; i++ {
		if rng.Float64() < q {
			dst = append(dst, i)
		}
	}
	return dst
}
