package fl

import (
	"bytes"
	"crypto/ecdh"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"math"
	mrand "math/rand/v2"
	"slices"

	"github.com/deepscope/deepscope/safetensors"
)

// Secure aggregation by pairwise masking (the masking step of Bonawitz et
// al. 2017, without its secret sharing). Each client of a cohort encodes
// its weighted update in fixed point as integers modulo 2^32 and, for every
// other member j, adds the mask PRG(s_ij) if its name sorts before j's and
// subtracts it otherwise, where s_ij is derived from an X25519 agreement
// between their keys for this round. Summed over the cohort every mask
// appears once with each sign, so the server's sum of the masked vectors is
// exactly the sum of the encoded updates, while each masked vector alone is
// uniformly random to it.
//
// Dropout: if a member of the cohort does not report, the masks it shares
// with the others do not cancel and the sum is useless; the server then
// abandons the round (the global model is unchanged) and runs it again with
// a new cohort and new keys, so no mask is ever used twice. Recovering the
// sum without the missing client, as the full protocol does with Shamir
// shares of each key, is not implemented.

// FracBits is the number of fractional bits of the fixed-point code of
// masked updates: values are rounded to multiples of 2^-20 (about 1e-6).
const FracBits = 20

// Peer is a member of a secure-aggregation cohort: its name (the common
// name of its certificate) and its X25519 public key for the round.
type Peer struct {
	ID        string `json:"id"`
	PublicKey []byte `json:"public_key"`
}

// NewMaskKey returns a fresh X25519 key for one round's masks.
func NewMaskKey() (*ecdh.PrivateKey, error) {
	k, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("fl: %w", err)
	}
	return k, nil
}

// MaskUpdate returns weight·delta in fixed point (FracBits) modulo 2^32
// plus the pairwise masks of client self with every other peer of the
// cohort (peers includes self). token names the round attempt and enters
// every seed, so masks differ between rounds even for the same keys.
// Values are clamped so that the cohort's sum cannot wrap around; the
// number clamped is returned (it should be zero).
func MaskUpdate(key *ecdh.PrivateKey, self string, peers []Peer, token string, weight float64, delta []float32) ([]uint32, int, error) {
	m := len(peers)
	if !slices.ContainsFunc(peers, func(p Peer) bool { return p.ID == self }) {
		return nil, 0, fmt.Errorf("fl: %s is not in the cohort", self)
	}
	bound := float64(math.MaxInt32 / m)
	scale := weight * (1 << FracBits)
	out := make([]uint32, len(delta))
	clamped := 0
	for i, v := range delta {
		q := math.Round(float64(v) * scale)
		if q > bound || q < -bound {
			q = math.Copysign(bound, q)
			clamped++
		}
		out[i] = uint32(int32(q))
	}
	for _, p := range peers {
		if p.ID == self {
			continue
		}
		if p.ID == "" {
			return nil, 0, fmt.Errorf("fl: a cohort member has no name")
		}
		seed, err := pairSeed(key, self, p, token)
		if err != nil {
			return nil, 0, err
		}
		addMask(out, seed, self < p.ID)
	}
	return out, clamped, nil
}

// pairSeed derives the seed that self and p share for this round: SHA-256
// over a label, the token, both names in sorted order and the X25519
// shared secret.
func pairSeed(key *ecdh.PrivateKey, self string, p Peer, token string) ([32]byte, error) {
	pub, err := ecdh.X25519().NewPublicKey(p.PublicKey)
	if err != nil {
		return [32]byte{}, fmt.Errorf("fl: public key of %s: %w", p.ID, err)
	}
	shared, err := key.ECDH(pub)
	if err != nil {
		return [32]byte{}, fmt.Errorf("fl: key agreement with %s: %w", p.ID, err)
	}
	lo, hi := self, p.ID
	if hi < lo {
		lo, hi = hi, lo
	}
	h := sha256.New()
	for _, s := range []string{"deepscope fl mask v1", token, lo, hi} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	h.Write(shared)
	var seed [32]byte
	copy(seed[:], h.Sum(nil))
	return seed, nil
}

// addMask adds (or, when !plus, subtracts) the ChaCha8 stream of seed to v
// modulo 2^32.
func addMask(v []uint32, seed [32]byte, plus bool) {
	g := mrand.NewChaCha8(seed)
	for i := 0; i < len(v); i += 2 {
		r := g.Uint64()
		a, b := uint32(r), uint32(r>>32)
		if !plus {
			a, b = -a, -b
		}
		v[i] += a
		if i+1 < len(v) {
			v[i+1] += b
		}
	}
}

// SumMasked adds src into dst modulo 2^32.
func SumMasked(dst, src []uint32) {
	if len(dst) != len(src) {
		panic("fl: SumMasked of vectors of different lengths")
	}
	for i, v := range src {
		dst[i] += v
	}
}

// DecodeSum turns the sum of a cohort's masked vectors (the masks having
// cancelled) back into float values: the sum of the weighted updates.
func DecodeSum(sum []uint32) []float64 {
	out := make([]float64, len(sum))
	for i, v := range sum {
		out[i] = float64(int32(v)) / (1 << FracBits)
	}
	return out
}

// maskedName is the one tensor of a masked upload: the uint32 values as
// little-endian bytes, U8 [n, 4] (safetensors has no unsigned 32-bit type,
// and the package holds values as float32, which bytes survive exactly).
const maskedName = "masked"

// encodeMasked writes a masked vector as safetensors bytes.
func encodeMasked(v []uint32, meta map[string]string) ([]byte, error) {
	b := make([]float32, 4*len(v))
	for i, x := range v {
		b[4*i], b[4*i+1], b[4*i+2], b[4*i+3] = float32(x&0xff), float32(x>>8&0xff), float32(x>>16&0xff), float32(x>>24)
	}
	var buf bytes.Buffer
	err := safetensors.Write(&buf, []safetensors.Tensor{{Name: maskedName, DType: safetensors.U8, Shape: []int{len(v), 4}, Data: b}}, meta)
	if err != nil {
		return nil, fmt.Errorf("fl: %w", err)
	}
	return buf.Bytes(), nil
}

// decodeMasked reads a masked upload of n values, checking its form.
func decodeMasked(b []byte, n int) ([]uint32, map[string]string, error) {
	ts, meta, err := safetensors.Read(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return nil, nil, fmt.Errorf("fl: %w", err)
	}
	if len(ts) != 1 || ts[0].Name != maskedName || ts[0].DType != safetensors.U8 || !slices.Equal(ts[0].Shape, []int{n, 4}) {
		return nil, nil, fmt.Errorf("fl: a masked update is one U8 tensor %q of shape [%d 4]", maskedName, n)
	}
	d := ts[0].Data
	v := make([]uint32, n)
	for i := range v {
		v[i] = uint32(d[4*i]) | uint32(d[4*i+1])<<8 | uint32(d[4*i+2])<<16 | uint32(d[4*i+3])<<24
	}
	return v, meta, nil
}

// maskedUpdate is a client's side of secure aggregation: delta clipped to
// norm clip (when > 0), weighted and masked.
func maskedUpdate(key *ecdh.PrivateKey, self string, peers []Peer, token string, weight, clip float64, delta []float32) ([]uint32, int, error) {
	if clip > 0 {
		delta = clipTo(delta, clip)
	}
	return MaskUpdate(key, self, peers, token, weight, delta)
}

// cohortWeight is the weight a client gives its update before masking, so
// that the unmasked sum is the round's mean: its share of the cohort's
// samples, or 1/m under DP (whose mean is unweighted).
func cohortWeight(dp bool, samples, total, m int) float64 {
	if dp {
		return 1 / float64(m)
	}
	return float64(samples) / float64(total)
}

// unmaskedStep decodes the sum of a cohort of m masked updates into the
// change of the global vector, adding the Gaussian noise of client-level DP
// (standard deviation Noise·Clip on the sum, so Noise·Clip/m on the mean).
func unmaskedStep(sum []uint32, m int, dp DPConfig, rng *mrand.Rand) []float32 {
	dec := DecodeSum(sum)
	out := make([]float32, len(dec))
	sd := dp.Noise * dp.Clip / float64(m)
	for i, v := range dec {
		if sd > 0 {
			v += sd * rng.NormFloat64()
		}
		out[i] = float32(v)
	}
	return out
}
