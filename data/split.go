package data

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// SplitConfig says how Split assigns items to train, val and test.
type SplitConfig struct {
	Val, Test float64 // fractions of the items (train gets the rest)
	Seed      uint64
	// GroupBy names a metadata column (patient, slide, ...): items sharing
	// a value stay in one split, so no patient is on both sides.
	GroupBy string
	// Resplit recomputes the split even where the items already have one.
	Resplit bool
}

// Split returns a copy of ds whose items are assigned to train, val and
// test. When every item already has a split (a manifest's split column),
// it is kept, unless cfg.Resplit; with GroupBy it is then checked that no
// group crosses splits. Otherwise the split is drawn per class (stratified:
// each class is divided in the given fractions) from a stream that depends
// only on the seed and the class; with GroupBy, whole groups are assigned,
// largest first, each to the split that keeps the class counts closest to
// their targets. Multi-label items are stratified by their rarest label.
func Split(ds *Dataset, cfg SplitConfig) (*Dataset, error) {
	if cfg.Val < 0 || cfg.Test < 0 || cfg.Val+cfg.Test >= 1 || math.IsNaN(cfg.Val+cfg.Test) {
		return nil, fmt.Errorf("data: split fractions val %g and test %g must be >= 0 and leave some for train", cfg.Val, cfg.Test)
	}
	out := *ds
	out.Items = slices.Clone(ds.Items)
	have := 0
	for _, it := range out.Items {
		if it.Split != "" {
			have++
		}
	}
	var groups []string
	if cfg.GroupBy != "" {
		groups = make([]string, len(out.Items))
		for i, it := range out.Items {
			g, ok := it.Meta[cfg.GroupBy]
			if !ok || g == "" {
				return nil, fmt.Errorf("data: %s: no %q value to group by", ds.Name(i), cfg.GroupBy)
			}
			groups[i] = g
		}
	}
	switch {
	case have == len(out.Items) && !cfg.Resplit:
		return &out, checkGroups(&out, groups, cfg.GroupBy)
	case have > 0 && !cfg.Resplit:
		for i, it := range out.Items {
			if it.Split == "" {
				return nil, fmt.Errorf("data: %s has no split while %d other items have one (set Resplit to draw them all)", ds.Name(i), have)
			}
		}
	}
	strata := strataOf(&out)
	fracs := [3]float64{1 - cfg.Val - cfg.Test, cfg.Val, cfg.Test}
	if groups == nil {
		splitStratified(out.Items, strata, fracs, cfg.Seed)
	} else {
		splitGrouped(out.Items, strata, groups, fracs, cfg.Seed)
	}
	return &out, nil
}

var splitNames = [3]string{Train, Val, Test}

// strataOf returns each item's stratum: its class, or for multi-label items
// its rarest positive label (len(Classes) when it has none).
func strataOf(ds *Dataset) []int {
	s := make([]int, len(ds.Items))
	if !ds.MultiLabel {
		for i, it := range ds.Items {
			s[i] = it.Label
		}
		return s
	}
	freq := ds.ClassCounts()
	for i, it := range ds.Items {
		s[i] = len(ds.Classes)
		for k, v := range it.Labels {
			if v != 0 && (s[i] == len(ds.Classes) || freq[k] < freq[s[i]]) {
				s[i] = k
			}
		}
	}
	return s
}

// splitStratified divides each stratum in the fractions, in an order
// shuffled by a stream of (seed, stratum).
func splitStratified(items []Item, strata []int, fracs [3]float64, seed uint64) {
	by := map[int][]int{}
	for i, s := range strata {
		by[s] = append(by[s], i)
	}
	for s, idx := range by {
		rng := rand.New(rand.NewPCG(mix(seed), mix(uint64(s)+0x5851F42D4C957F2D)))
		rng.Shuffle(len(idx), func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
		n := len(idx)
		nTest := int(math.Round(float64(n) * fracs[2]))
		nVal := min(int(math.Round(float64(n)*fracs[1])), n-nTest)
		for k, i := range idx {
			switch {
			case k < nTest:
				items[i].Split = Test
			case k < nTest+nVal:
				items[i].Split = Val
			default:
				items[i].Split = Train
			}
		}
	}
}

// splitGrouped assigns whole groups greedily: largest first (ties in a
// seeded random order), each to the split where the squared distance of
// every class count from its target, relative to the class size, grows
// least.
func splitGrouped(items []Item, strata []int, groups []string, fracs [3]float64, seed uint64) {
	nstrata := slices.Max(strata) + 1
	type group struct {
		name   string
		items  []int
		counts []float64
	}
	index := map[string]*group{}
	var gs []*group
	total := make([]float64, nstrata)
	for i, name := range groups {
		g := index[name]
		if g == nil {
			g = &group{name: name, counts: make([]float64, nstrata)}
			index[name] = g
			gs = append(gs, g)
		}
		g.items = append(g.items, i)
		g.counts[strata[i]]++
		total[strata[i]]++
	}
	slices.SortFunc(gs, func(a, b *group) int { return cmp.Compare(a.name, b.name) })
	rng := rand.New(rand.NewPCG(mix(seed), 0x2545F4914F6CDD1D))
	rng.Shuffle(len(gs), func(i, j int) { gs[i], gs[j] = gs[j], gs[i] })
	slices.SortStableFunc(gs, func(a, b *group) int { return cmp.Compare(len(b.items), len(a.items)) })

	var have [3][]float64
	for s := range have {
		have[s] = make([]float64, nstrata)
	}
	for _, g := range gs {
		best, bestCost := 0, math.Inf(1)
		for s := range 3 {
			if fracs[s] == 0 {
				continue
			}
			// The change in cost from adding g to split s.
			var cost float64
			for k, c := range g.counts {
				if c == 0 {
					continue
				}
				d := have[s][k] - fracs[s]*total[k]
				cost += ((d+c)*(d+c) - d*d) / total[k]
			}
			if cost < bestCost {
				best, bestCost = s, cost
			}
		}
		for k, c := range g.counts {
			have[best][k] += c
		}
		for _, i := range g.items {
			items[i].Split = splitNames[best]
		}
	}
}

// checkGroups reports a group whose items are in more than one split.
func checkGroups(ds *Dataset, groups []string, by string) error {
	first := map[string]int{}
	for i, g := range groups {
		j, seen := first[g]
		if !seen {
			first[g] = i
			continue
		}
		if ds.Items[j].Split != ds.Items[i].Split {
			return fmt.Errorf("data: %s %q is in %s (%s) and in %s (%s); set Resplit to draw a grouped split",
				by, g, ds.Items[j].Split, ds.Name(j), ds.Items[i].Split, ds.Name(i))
		}
	}
	return nil
}
