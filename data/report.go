package data

import (
	"fmt"
	"io"
	"slices"
	"strings"
)

// Report is what Check found. It is meant to be read (WriteText) and
// stored (encoding/json, with the field names below).
type Report struct {
	Root       string `json:"root"`
	Source     string `json:"source"`
	Images     int    `json:"images"`
	MultiLabel bool   `json:"multi_label"`
	// NearDistance is the Hamming distance used for near duplicates (-1: not searched).
	NearDistance int `json:"near_distance"`

	Classes        []ClassCount   `json:"classes"`
	EmptyClasses   []string       `json:"empty_classes"`
	ImbalanceRatio float64        `json:"imbalance_ratio"` // largest class / smallest non-empty class
	Splits         map[string]int `json:"splits"`          // "" counts unassigned items

	Sizes     map[string]int `json:"sizes"`      // "WxH" -> images
	Channels  map[int]int    `json:"channels"`   // 1 or 3 -> images
	BitDepths map[int]int    `json:"bit_depths"` // 8 or 16 -> images
	Formats   map[string]int `json:"formats"`    // "jpeg", "png", ... -> images

	Unreadable      []Problem  `json:"unreadable"`
	FormatMismatch  []Problem  `json:"format_mismatch"`
	ExactDuplicates []DupGroup `json:"exact_duplicates"`
	NearDuplicates  []DupGroup `json:"near_duplicates"`
	Ignored         []string   `json:"ignored"` // files not taken as images
}

// ClassCount is one class's number of images, in all and per split.
type ClassCount struct {
	Name    string         `json:"name"`
	Count   int            `json:"count"`
	BySplit map[string]int `json:"by_split"`
}

// Problem is one file and what is wrong with it.
type Problem struct {
	Path  string `json:"path"`
	Error string `json:"error"`
}

// DupGroup is a set of images that are the same (exact) or look the same
// (near). CrossSplit marks leakage between train, val and test;
// MixedLabels marks the same picture under different labels.
type DupGroup struct {
	Items       []DupItem `json:"items"`
	CrossSplit  bool      `json:"cross_split"`
	MixedLabels bool      `json:"mixed_labels"`
}

// DupItem is one image of a DupGroup.
type DupItem struct {
	Path  string `json:"path"`
	Label string `json:"label"`
	Split string `json:"split,omitempty"`
}

// Clean reports whether the data has no problems: no unreadable files,
// no lying extensions, no exact duplicates, no near duplicates that cross
// splits or labels, and no empty class. Near duplicates inside one split
// under one label and class imbalance are described but not problems.
func (r *Report) Clean() bool { return len(r.ProblemSummary()) == 0 }

// ProblemSummary returns one line per kind of problem found.
func (r *Report) ProblemSummary() []string {
	var p []string
	add := func(n int, one, many string) {
		switch {
		case n == 1:
			p = append(p, one)
		case n > 1:
			p = append(p, fmt.Sprintf(many, n))
		}
	}
	add(len(r.Unreadable), "1 unreadable image", "%d unreadable images")
	add(len(r.FormatMismatch), "1 image whose extension names another format", "%d images whose extension names another format")
	add(len(r.EmptyClasses), "1 empty class", "%d empty classes")
	add(len(r.ExactDuplicates), "1 group of exact duplicates", "%d groups of exact duplicates")
	var leak, mixed int
	for _, g := range r.NearDuplicates {
		if g.CrossSplit {
			leak++
		}
		if g.MixedLabels {
			mixed++
		}
	}
	add(leak, "1 group of near duplicates across splits (leakage)", "%d groups of near duplicates across splits (leakage)")
	add(mixed, "1 group of near duplicates with different labels", "%d groups of near duplicates with different labels")
	return p
}

func buildReport(ds *Dataset, facts []itemFacts, near int) *Report {
	r := &Report{Root: ds.Root, Source: ds.Source, Images: len(ds.Items), MultiLabel: ds.MultiLabel,
		NearDistance: near, Splits: map[string]int{}, Sizes: map[string]int{}, Channels: map[int]int{},
		BitDepths: map[int]int{}, Formats: map[string]int{}, Ignored: ds.Ignored}
	if near < 0 {
		r.NearDistance = -1
	}
	r.Classes = make([]ClassCount, len(ds.Classes))
	for k, name := range ds.Classes {
		r.Classes[k] = ClassCount{Name: name, BySplit: map[string]int{}}
	}
	for i, it := range ds.Items {
		r.Splits[it.Split]++
		for _, k := range itemClasses(ds, i) {
			r.Classes[k].Count++
			r.Classes[k].BySplit[it.Split]++
		}
		f := &facts[i]
		if f.err != nil {
			r.Unreadable = append(r.Unreadable, Problem{Path: ds.Name(i), Error: f.err.Error()})
			continue
		}
		r.Sizes[fmt.Sprintf("%dx%d", f.info.Width, f.info.Height)]++
		r.Channels[f.info.Channels]++
		r.BitDepths[f.info.BitDepth]++
		r.Formats[f.info.Format]++
		if want := extFormat(it.Path); ds.arrays == nil && want != f.info.Format {
			r.FormatMismatch = append(r.FormatMismatch, Problem{Path: ds.Name(i),
				Error: fmt.Sprintf("extension says %s, content is %s", want, f.info.Format)})
		}
	}
	smallest, largest := 0, 0
	for _, c := range r.Classes {
		if c.Count == 0 {
			r.EmptyClasses = append(r.EmptyClasses, c.Name)
			continue
		}
		if smallest == 0 || c.Count < smallest {
			smallest = c.Count
		}
		largest = max(largest, c.Count)
	}
	if smallest > 0 {
		r.ImbalanceRatio = float64(largest) / float64(smallest)
	}
	ok := func(i int) bool { return facts[i].err == nil }
	exact := duplicateGroups(len(facts), func(i int) ([32]byte, bool) { return facts[i].sha, ok(i) })
	for _, g := range exact {
		r.ExactDuplicates = append(r.ExactDuplicates, dupGroup(ds, g))
	}
	if near >= 0 {
		var idx []int
		var hashes []uint64
		for i := range facts {
			if ok(i) {
				idx = append(idx, i)
				hashes = append(hashes, facts[i].phash)
			}
		}
		for _, g := range nearGroups(hashes, near) {
			items := make([]int, len(g))
			for k, j := range g {
				items[k] = idx[j]
			}
			if !sameBytes(facts, items) { // exact duplicates are listed already
				r.NearDuplicates = append(r.NearDuplicates, dupGroup(ds, items))
			}
		}
	}
	return r
}

// itemClasses returns the classes item i belongs to.
func itemClasses(ds *Dataset, i int) []int {
	it := ds.Items[i]
	if !ds.MultiLabel {
		if it.Label >= 0 && it.Label < len(ds.Classes) {
			return []int{it.Label}
		}
		return nil
	}
	var ks []int
	for k, v := range it.Labels {
		if v != 0 && k < len(ds.Classes) {
			ks = append(ks, k)
		}
	}
	return ks
}

func sameBytes(facts []itemFacts, items []int) bool {
	for _, i := range items[1:] {
		if facts[i].sha != facts[items[0]].sha {
			return false
		}
	}
	return true
}

func dupGroup(ds *Dataset, items []int) DupGroup {
	var g DupGroup
	for _, i := range items {
		it := ds.Items[i]
		var names []string
		for _, k := range itemClasses(ds, i) {
			names = append(names, ds.Classes[k])
		}
		d := DupItem{Path: ds.Name(i), Label: strings.Join(names, ";"), Split: it.Split}
		if len(g.Items) > 0 {
			g.CrossSplit = g.CrossSplit || d.Split != g.Items[0].Split
			g.MixedLabels = g.MixedLabels || d.Label != g.Items[0].Label
		}
		g.Items = append(g.Items, d)
	}
	return g
}

// WriteText writes a readable summary, listing at most maxList entries of
// each kind of finding (0: all).
func (r *Report) WriteText(w io.Writer, maxList int) {
	pf := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	pf("%s (%s): %d images, %d classes\n", r.Root, r.Source, r.Images, len(r.Classes))
	splits := sortedKeys(r.Splits)
	pf("\nclass counts")
	if len(splits) > 1 || (len(splits) == 1 && splits[0] != "") {
		pf(" (%s)", strings.Join(splitLabels(splits), " / "))
	}
	pf(":\n")
	for _, c := range r.Classes {
		pf("  %-24s %7d", c.Name, c.Count)
		if len(splits) > 1 || (len(splits) == 1 && splits[0] != "") {
			var parts []string
			for _, s := range splits {
				parts = append(parts, fmt.Sprint(c.BySplit[s]))
			}
			pf("   (%s)", strings.Join(parts, " / "))
		}
		pf("\n")
	}
	if r.ImbalanceRatio > 0 {
		pf("  imbalance (largest / smallest class): %.2f\n", r.ImbalanceRatio)
	}
	pf("\nimages: sizes %s; channels %s; bit depth %s; formats %s\n",
		countList(r.Sizes), countList(intKeys(r.Channels)), countList(intKeys(r.BitDepths)), countList(r.Formats))
	if len(r.Ignored) > 0 {
		pf("ignored files (not images): %d\n", len(r.Ignored))
	}
	list := func(title string, n int, line func(i int)) {
		if n == 0 {
			return
		}
		pf("\n%s: %d\n", title, n)
		for i := 0; i < n && (maxList <= 0 || i < maxList); i++ {
			line(i)
		}
		if maxList > 0 && n > maxList {
			pf("  ... and %d more (see the JSON report)\n", n-maxList)
		}
	}
	list("unreadable images", len(r.Unreadable), func(i int) { pf("  %s\n", r.Unreadable[i].Error) })
	list("extension does not match content", len(r.FormatMismatch), func(i int) {
		pf("  %s: %s\n", r.FormatMismatch[i].Path, r.FormatMismatch[i].Error)
	})
	list("empty classes", len(r.EmptyClasses), func(i int) { pf("  %s\n", r.EmptyClasses[i]) })
	dups := func(g DupGroup) {
		var tags []string
		if g.CrossSplit {
			tags = append(tags, "ACROSS SPLITS")
		}
		if g.MixedLabels {
			tags = append(tags, "DIFFERENT LABELS")
		}
		if len(tags) > 0 {
			pf("  %d images: %s\n", len(g.Items), strings.Join(tags, ", "))
		} else {
			pf("  %d images\n", len(g.Items))
		}
		for _, it := range g.Items {
			pf("    %s [%s%s]\n", it.Path, it.Label, splitSuffix(it.Split))
		}
	}
	list("exact duplicate groups", len(r.ExactDuplicates), func(i int) { dups(r.ExactDuplicates[i]) })
	if r.NearDistance >= 0 {
		list(fmt.Sprintf("near-duplicate groups (perceptual hash within %d bits)", r.NearDistance),
			len(r.NearDuplicates), func(i int) { dups(r.NearDuplicates[i]) })
	}
	if p := r.ProblemSummary(); len(p) > 0 {
		pf("\nPROBLEMS: %s\n", strings.Join(p, "; "))
	} else {
		pf("\nclean: no problems found\n")
	}
}

func splitSuffix(s string) string {
	if s == "" {
		return ""
	}
	return ", " + s
}

func splitLabels(splits []string) []string {
	out := make([]string, len(splits))
	for i, s := range splits {
		out[i] = s
		if s == "" {
			out[i] = "unassigned"
		}
	}
	return out
}

// sortedKeys returns the split names in the order train, val, test, others.
func sortedKeys(m map[string]int) []string {
	var out []string
	for _, s := range []string{Train, Val, Test} {
		if _, ok := m[s]; ok {
			out = append(out, s)
		}
	}
	var rest []string
	for s := range m {
		if s != Train && s != Val && s != Test {
			rest = append(rest, s)
		}
	}
	slices.Sort(rest)
	return append(out, rest...)
}

func intKeys(m map[int]int) map[string]int {
	out := map[string]int{}
	for k, v := range m {
		out[fmt.Sprint(k)] = v
	}
	return out
}

// countList formats a map as "a (n), b (m)", most frequent first.
func countList(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		if m[a] != m[b] {
			return m[b] - m[a]
		}
		return strings.Compare(a, b)
	})
	if len(keys) > 6 {
		keys = append(keys[:6], fmt.Sprintf("%d others", len(keys)-6))
	}
	parts := make([]string, len(keys))
	for i, k := range keys {
		if n, ok := m[k]; ok {
			parts[i] = fmt.Sprintf("%s (%d)", k, n)
		} else {
			parts[i] = k
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}
