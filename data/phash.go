package data

import (
	"math"
	"math/bits"
	"slices"

	"github.com/deepscope/deepscope/tensor"
)

// PHash returns the 64-bit DCT perceptual hash of an image [H, W, C]: the
// image is reduced to 32×32 grey (antialiased), the 8×8 lowest non-constant
// frequencies of its 2-D DCT-II are taken, and bit 8u+v is set where
// coefficient (u+1, v+1) exceeds their median. Images that look alike have
// hashes a few bits apart (Hamming distance); re-encoding, mild blur or
// small brightness changes move few bits.
func PHash(img *tensor.Tensor) uint64 {
	g := convertChannels(img.Contiguous(), 1)
	if g.Shape[0] != 32 || g.Shape[1] != 32 {
		g = resize(g, 0, 0, float64(g.Shape[1]), float64(g.Shape[0]), 32, 32, nil, nil)
	}
	f := g.Values()
	// rows[u][y] = sum over x of f[y][x] cos((2x+1)uπ/64), for u = 1..8.
	var rows [8][32]float64
	for u := range 8 {
		c := &dctCos[u]
		for y := range 32 {
			var s float64
			for x, v := range f[y*32 : y*32+32] {
				s += float64(v) * c[x]
			}
			rows[u][y] = s
		}
	}
	var coef [64]float64
	for v := range 8 {
		c := &dctCos[v]
		for u := range 8 {
			var s float64
			for y := range 32 {
				s += rows[u][y] * c[y]
			}
			coef[8*v+u] = s
		}
	}
	sorted := coef
	slices.Sort(sorted[:])
	median := (sorted[31] + sorted[32]) / 2
	var h uint64
	for i, c := range coef {
		if c > median {
			h |= 1 << i
		}
	}
	return h
}

// dctCos[u][x] = cos((2x+1)(u+1)π/64).
var dctCos = func() (t [8][32]float64) {
	for u := range 8 {
		for x := range 32 {
			t[u][x] = math.Cos(float64(2*x+1) * float64(u+1) * math.Pi / 64)
		}
	}
	return
}()

// Hamming returns the number of bits in which a and b differ.
func Hamming(a, b uint64) int { return bits.OnesCount64(a ^ b) }

// nearGroups returns the connected groups (two or more items) of the graph
// joining items whose hashes are at most maxDist apart. It avoids comparing
// all pairs: by the pigeonhole principle two hashes within maxDist agree
// exactly on at least one of maxDist+1 disjoint bands of bits, so only
// items sharing a band value are compared. Items with identical hashes are
// joined without comparing them pairwise.
func nearGroups(hashes []uint64, maxDist int) [][]int {
	uf := newUnionFind(len(hashes))
	// Identical hashes first; later steps work on one representative each.
	first := map[uint64]int{}
	var reps []int
	for i, h := range hashes {
		if j, ok := first[h]; ok {
			uf.union(i, j)
		} else {
			first[h] = i
			reps = append(reps, i)
		}
	}
	nb := maxDist + 1
	for b := range nb {
		lo, hi := 64*b/nb, 64*(b+1)/nb
		mask := uint64(1)<<(hi-lo) - 1
		if hi-lo == 64 {
			mask = ^uint64(0)
		}
		buckets := map[uint64][]int{}
		for _, i := range reps {
			k := hashes[i] >> lo & mask
			buckets[k] = append(buckets[k], i)
		}
		for _, bucket := range buckets {
			for x, i := range bucket {
				for _, j := range bucket[x+1:] {
					if Hamming(hashes[i], hashes[j]) <= maxDist {
						uf.union(i, j)
					}
				}
			}
		}
	}
	return uf.groups()
}

// unionFind is a disjoint-set forest with path halving.
type unionFind []int

func newUnionFind(n int) unionFind {
	u := make(unionFind, n)
	for i := range u {
		u[i] = i
	}
	return u
}

func (u unionFind) find(i int) int {
	for u[i] != i {
		u[i] = u[u[i]]
		i = u[i]
	}
	return i
}

func (u unionFind) union(i, j int) {
	a, b := u.find(i), u.find(j)
	if a != b {
		u[max(a, b)] = min(a, b)
	}
}

// groups returns the sets of two or more members, each in increasing
// order, ordered by their first member.
func (u unionFind) groups() [][]int {
	m := map[int][]int{}
	for i := range u {
		r := u.find(i)
		m[r] = append(m[r], i)
	}
	var out [][]int
	for _, g := range m {
		if len(g) > 1 {
			out = append(out, g)
		}
	}
	slices.SortFunc(out, func(a, b []int) int { return a[0] - b[0] })
	return out
}
