package data

import (
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

// synthetic returns an index (no files) of n items per class.
func synthetic(classes, n int) *Dataset {
	ds := &Dataset{Root: "/nowhere"}
	for c := range classes {
		ds.Classes = append(ds.Classes, fmt.Sprint("class", c))
		for i := range n {
			ds.Items = append(ds.Items, Item{Path: fmt.Sprintf("c%d/%d.png", c, i), Label: c})
		}
	}
	return ds
}

func splitCounts(ds *Dataset) map[string][]int {
	m := map[string][]int{}
	for _, it := range ds.Items {
		if m[it.Split] == nil {
			m[it.Split] = make([]int, len(ds.Classes))
		}
		m[it.Split][it.Label]++
	}
	return m
}

func TestSplitStratified(t *testing.T) {
	ds := synthetic(3, 100)
	cfg := SplitConfig{Val: 0.1, Test: 0.2, Seed: 4}
	a, err := Split(ds, cfg)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]int{Train: {70, 70, 70}, Val: {10, 10, 10}, Test: {20, 20, 20}}
	if got := splitCounts(a); !reflect.DeepEqual(got, want) {
		t.Errorf("counts %v, want %v", got, want)
	}
	if ds.Items[0].Split != "" {
		t.Error("Split changed its input")
	}
	b, _ := Split(ds, cfg)
	if !reflect.DeepEqual(a.Items, b.Items) {
		t.Error("same seed, different split")
	}
	cfg.Seed = 5
	if c, _ := Split(ds, cfg); reflect.DeepEqual(a.Items, c.Items) {
		t.Error("different seeds, same split")
	}
	// A class added later leaves the others' assignment alone.
	more := synthetic(4, 100)
	cfg.Seed = 4
	m, _ := Split(more, cfg)
	if !reflect.DeepEqual(m.Items[:300], a.Items) {
		t.Error("adding a class moved items of the other classes")
	}
}

func TestSplitGrouped(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	ds := &Dataset{Classes: []string{"benign", "malignant"}}
	for p := range 80 {
		for j := range 1 + rng.IntN(12) {
			label := p % 2
			if rng.IntN(5) == 0 {
				label = 1 - label
			}
			ds.Items = append(ds.Items, Item{Path: fmt.Sprintf("p%d/%d.png", p, j), Label: label,
				Meta: map[string]string{"patient": fmt.Sprint("P", p)}})
		}
	}
	cfg := SplitConfig{Val: 0.15, Test: 0.15, Seed: 9, GroupBy: "patient"}
	s, err := Split(ds, cfg)
	if err != nil {
		t.Fatal(err)
	}
	where := map[string]string{}
	n := map[string]float64{}
	for _, it := range s.Items {
		p := it.Meta["patient"]
		if w, ok := where[p]; ok && w != it.Split {
			t.Fatalf("patient %s in %s and %s", p, w, it.Split)
		}
		where[p] = it.Split
		n[it.Split]++
	}
	total := float64(len(ds.Items))
	for split, frac := range map[string]float64{Train: 0.7, Val: 0.15, Test: 0.15} {
		if got := n[split] / total; math.Abs(got-frac) > 0.05 {
			t.Errorf("%s has %.3f of the items, want %.2f ± 0.05", split, got, frac)
		}
	}
	if err := checkGroups(s, groupsOf(s, "patient"), "patient"); err != nil {
		t.Error(err)
	}
	s2, _ := Split(ds, cfg)
	if !reflect.DeepEqual(s.Items, s2.Items) {
		t.Error("grouped split not deterministic")
	}
}

func groupsOf(ds *Dataset, by string) []string {
	g := make([]string, len(ds.Items))
	for i, it := range ds.Items {
		g[i] = it.Meta[by]
	}
	return g
}

func TestSplitKeepsAndChecksExisting(t *testing.T) {
	ds := synthetic(1, 4)
	for i := range ds.Items {
		ds.Items[i].Split = []string{Train, Train, Val, Test}[i]
		ds.Items[i].Meta = map[string]string{"slide": []string{"s1", "s2", "s1", "s3"}[i]}
	}
	kept, err := Split(ds, SplitConfig{Val: 0.5, Test: 0.25})
	if err != nil || !reflect.DeepEqual(kept.Items, ds.Items) {
		t.Fatalf("existing split not kept: %v", err)
	}
	_, err = Split(ds, SplitConfig{GroupBy: "slide"})
	if err == nil || !strings.Contains(err.Error(), `slide "s1" is in train`) {
		t.Errorf("leaking slide: %v", err)
	}
	re, err := Split(ds, SplitConfig{GroupBy: "slide", Resplit: true, Val: 0.3})
	if err != nil || checkGroups(re, groupsOf(re, "slide"), "slide") != nil {
		t.Errorf("resplit: %v", err)
	}
	ds.Items[3].Split = ""
	if _, err := Split(ds, SplitConfig{}); err == nil || !strings.Contains(err.Error(), "c0/3.png has no split") {
		t.Errorf("partial split column: %v", err)
	}
	delete(ds.Items[1].Meta, "slide")
	if _, err := Split(ds, SplitConfig{GroupBy: "slide", Resplit: true}); err == nil || !strings.Contains(err.Error(), `c0/1.png: no "slide"`) {
		t.Errorf("missing group: %v", err)
	}
	for _, bad := range []SplitConfig{{Val: -0.1}, {Val: 0.5, Test: 0.5}, {Test: math.NaN()}} {
		if _, err := Split(synthetic(1, 3), bad); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

func TestSplitMultiLabelStrata(t *testing.T) {
	ds := &Dataset{Classes: []string{"common", "rare"}, MultiLabel: true}
	for i := range 50 {
		l := []float32{1, 0}
		if i%10 == 0 {
			l[1] = 1
		}
		if i%7 == 0 {
			l = []float32{0, 0}
		}
		ds.Items = append(ds.Items, Item{Path: fmt.Sprint(i), Label: -1, Labels: l})
	}
	got := strataOf(ds)
	if got[10] != 1 || got[1] != 0 || got[7] != 2 {
		t.Errorf("strata %v", got[:11])
	}
	if _, err := Split(ds, SplitConfig{Val: 0.2, Test: 0.2}); err != nil {
		t.Fatal(err)
	}
}
