package fl

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"

	"github.com/deepscope/deepscope/data"
)

// Partition divides the items of ds among k simulated clients, as
// federated experiments do to imitate sites:
//
//   - "iid": a seeded shuffle dealt out evenly, so every client sees the
//     same class mix;
//   - "dirichlet:ALPHA": label skew (Hsu et al. 2019): for every class,
//     client shares drawn from a symmetric Dirichlet(ALPHA); small ALPHA
//     (0.1) gives clients dominated by a few classes, large ALPHA (100)
//     approaches IID. Draws are repeated until every client holds at least
//     min(10, n/(2k)) items;
//   - "site": one client per value of the items' "site" column (k must be
//     0 or that number), the natural split of multi-site data.
//
// The result shares Classes and image arrays with ds.
func Partition(ds *data.Dataset, k int, how string, seed uint64) ([]*data.Dataset, error) {
	n := ds.Len()
	rng := rand.New(rand.NewPCG(seed, 0xfed))
	var parts [][]int
	switch {
	case how == "iid":
		if err := checkClients(k, n); err != nil {
			return nil, err
		}
		perm := rng.Perm(n)
		parts = make([][]int, k)
		for i, j := range perm {
			parts[i%k] = append(parts[i%k], j)
		}
	case strings.HasPrefix(how, "dirichlet:"):
		alpha, err := strconv.ParseFloat(strings.TrimPrefix(how, "dirichlet:"), 64)
		if err != nil || !(alpha > 0) || math.IsInf(alpha, 0) {
			return nil, fmt.Errorf("fl: partition %q: ALPHA must be a number > 0", how)
		}
		if err := checkClients(k, n); err != nil {
			return nil, err
		}
		if ds.MultiLabel {
			return nil, fmt.Errorf("fl: partition %q needs single-label data", how)
		}
		if parts, err = dirichletParts(ds, k, alpha, rng); err != nil {
			return nil, err
		}
	case how == "site":
		sites := map[string][]int{}
		for i, it := range ds.Items {
			s, ok := it.Meta["site"]
			if !ok || s == "" {
				return nil, fmt.Errorf("fl: partition site: %s has no site column value", ds.Name(i))
			}
			sites[s] = append(sites[s], i)
		}
		names := make([]string, 0, len(sites))
		for s := range sites {
			names = append(names, s)
		}
		slices.Sort(names)
		if k != 0 && k != len(names) {
			return nil, fmt.Errorf("fl: partition site: the data has %d sites (%s), not %d clients", len(names), strings.Join(names, ", "), k)
		}
		for _, s := range names {
			parts = append(parts, sites[s])
		}
	default:
		return nil, fmt.Errorf("fl: partition %q: want iid, dirichlet:ALPHA or site", how)
	}
	out := make([]*data.Dataset, len(parts))
	for c, idx := range parts {
		slices.Sort(idx)
		sub := *ds
		sub.Items = make([]data.Item, len(idx))
		for i, j := range idx {
			sub.Items[i] = ds.Items[j]
		}
		sub.Ignored = nil
		out[c] = &sub
	}
	return out, nil
}

func checkClients(k, n int) error {
	if k < 1 || k > n {
		return fmt.Errorf("fl: %d clients for %d items: want 1 to %d", k, n, n)
	}
	return nil
}

// dirichletParts deals each class's items to k clients in proportions drawn
// from Dirichlet(alpha), redrawing until every client has enough items.
func dirichletParts(ds *data.Dataset, k int, alpha float64, rng *rand.Rand) ([][]int, error) {
	byClass := make([][]int, len(ds.Classes))
	for i, it := range ds.Items {
		byClass[it.Label] = append(byClass[it.Label], i)
	}
	minSize := min(10, ds.Len()/(2*k))
	for try := 0; try < 1000; try++ {
		parts := make([][]int, k)
		for _, idx := range byClass {
			idx = slices.Clone(idx)
			rng.Shuffle(len(idx), func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
			p := dirichlet(rng, k, alpha)
			start, cum := 0, 0.0
			for c := range k {
				cum += p[c]
				end := int(math.Round(cum * float64(len(idx))))
				if c == k-1 {
					end = len(idx)
				}
				parts[c] = append(parts[c], idx[start:end]...)
				start = end
			}
		}
		smallest := ds.Len()
		for _, p := range parts {
			smallest = min(smallest, len(p))
		}
		if smallest >= minSize {
			return parts, nil
		}
	}
	return nil, fmt.Errorf("fl: partition dirichlet:%g: no draw in 1000 gave each of %d clients %d items; raise ALPHA or lower the clients", alpha, k, minSize)
}

// dirichlet draws k proportions from a symmetric Dirichlet(alpha): k
// Gamma(alpha) draws divided by their sum.
func dirichlet(rng *rand.Rand, k int, alpha float64) []float64 {
	p := make([]float64, k)
	var s float64
	for i := range p {
		p[i] = gamma(rng, alpha)
		s += p[i]
	}
	if s == 0 { // every draw underflowed (tiny alpha): one client takes all
		p[rng.IntN(k)] = 1
		return p
	}
	for i := range p {
		p[i] /= s
	}
	return p
}

// gamma draws from Gamma(shape, 1) by Marsaglia and Tsang's method (2000),
// with the boost Gamma(a) = Gamma(a+1)·U^(1/a) for shape < 1.
func gamma(rng *rand.Rand, shape float64) float64 {
	if shape < 1 {
		return gamma(rng, shape+1) * math.Pow(rng.Float64(), 1/shape)
	}
	d := shape - 1.0/3
	c := 1 / math.Sqrt(9*d)
	for {
		x := rng.NormFloat64()
		v := 1 + c*x
		if v <= 0 {
			continue
		}
		v = v * v * v
		u := rng.Float64()
		if u < 1-0.0331*x*x*x*x || math.Log(u) < 0.5*x*x+d*(1-v+math.Log(v)) {
			return d * v
		}
	}
}
