package fl

import (
	"crypto/ecdh"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// cohortKeys makes keys for m clients named site1, site2, ...
func cohortKeys(m int) ([]*ecdh.PrivateKey, []Peer, error) {
	var keys []*ecdh.PrivateKey
	var peers []Peer
	for i := range m {
		k, err := NewMaskKey()
		if err != nil {
			return nil, nil, err
		}
		keys = append(keys, k)
		peers = append(peers, Peer{ID: fmt.Sprintf("site%d", i+1), PublicKey: k.PublicKey().Bytes()})
	}
	return keys, peers, nil
}

// cohort makes m clients with keys and updates of n values.
func cohort(t *testing.T, m, n int) ([]*ecdh.PrivateKey, []Peer, [][]float32) {
	t.Helper()
	rng := rand.New(rand.NewPCG(uint64(m), uint64(n)))
	keys, peers, err := cohortKeys(m)
	if err != nil {
		t.Fatal(err)
	}
	var deltas [][]float32
	for range m {
		d := make([]float32, n)
		for j := range d {
			d[j] = float32(rng.NormFloat64() * 0.05)
		}
		deltas = append(deltas, d)
	}
	return keys, peers, deltas
}

func TestMasksCancelInTheSum(t *testing.T) {
	for _, m := range []int{2, 3, 5} {
		const n = 1001 // odd, so the last value takes half of a 64-bit draw
		keys, peers, deltas := cohort(t, m, n)
		weights := make([]float64, m)
		for i := range weights {
			weights[i] = float64(i+1) / float64(m*(m+1)/2) // sums to 1
		}
		var sum []uint32
		for i := range m {
			masked, clamped, err := MaskUpdate(keys[i], peers[i].ID, peers, "r7", weights[i], deltas[i])
			if err != nil || clamped != 0 {
				t.Fatalf("m=%d: MaskUpdate: %v, %d clamped", m, err, clamped)
			}
			// Through the wire format and back, as an upload travels.
			b, err := encodeMasked(masked, map[string]string{"samples": "1"})
			if err != nil {
				t.Fatal(err)
			}
			got, _, err := decodeMasked(b, n)
			if err != nil {
				t.Fatal(err)
			}
			// A single masked vector says nothing of its update: compared
			// with the plain fixed-point code, most values differ widely.
			if m >= 2 {
				far := 0
				for j, v := range got {
					plain := math.Round(float64(deltas[i][j]) * weights[i] * (1 << FracBits))
					if math.Abs(float64(int32(v))-plain) > 1<<24 {
						far++
					}
				}
				if far < n*9/10 {
					t.Errorf("m=%d: only %d of %d masked values far from the plain ones", m, far, n)
				}
			}
			if sum == nil {
				sum = got
			} else {
				SumMasked(sum, got)
			}
		}
		dec := DecodeSum(sum)
		maxErr := 0.0
		for j := range n {
			var want float64
			for i := range m {
				want += weights[i] * float64(deltas[i][j])
			}
			maxErr = math.Max(maxErr, math.Abs(dec[j]-want))
		}
		// Only rounding to the fixed-point grid remains: half a step per client.
		if limit := float64(m) * 0.5 / (1 << FracBits); maxErr > limit {
			t.Errorf("m=%d: sum off by %g, want at most %g", m, maxErr, limit)
		}
	}
}

func TestMaskedSumWithoutOneClientIsGarbage(t *testing.T) {
	keys, peers, deltas := cohort(t, 3, 200)
	var sum []uint32
	for i := range 2 { // the third client drops out
		masked, _, err := MaskUpdate(keys[i], peers[i].ID, peers, "r1", 0.5, deltas[i])
		if err != nil {
			t.Fatal(err)
		}
		if sum == nil {
			sum = masked
		} else {
			SumMasked(sum, masked)
		}
	}
	big := 0
	for _, v := range DecodeSum(sum) {
		if math.Abs(v) > 1 {
			big++
		}
	}
	if big < 150 {
		t.Errorf("only %d of 200 values garbled without the third client's masks", big)
	}
}

func TestMaskUpdateErrors(t *testing.T) {
	keys, peers, deltas := cohort(t, 2, 4)
	if _, _, err := MaskUpdate(keys[0], "stranger", peers, "t", 1, deltas[0]); err == nil || !strings.Contains(err.Error(), "not in the cohort") {
		t.Errorf("stranger: %v", err)
	}
	bad := []Peer{peers[0], {ID: "site2", PublicKey: []byte{1, 2, 3}}}
	if _, _, err := MaskUpdate(keys[0], "site1", bad, "t", 1, deltas[0]); err == nil || !strings.Contains(err.Error(), "public key of site2") {
		t.Errorf("bad key: %v", err)
	}
	_, clamped, err := MaskUpdate(keys[0], "site1", peers, "t", 1, []float32{1e6, -1e6, 0})
	if err != nil || clamped != 2 {
		t.Errorf("huge values: %d clamped, err %v; want 2", clamped, err)
	}
	if _, _, err := decodeMasked([]byte("junk"), 4); err == nil {
		t.Error("junk decoded")
	}
}
