package fl

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/deepscope/deepscope/data"
)

// labelled returns a dataset of n items per class over k classes, with a
// site column cycling over sites.
func labelled(n, k, sites int) *data.Dataset {
	ds := &data.Dataset{}
	for c := range k {
		ds.Classes = append(ds.Classes, fmt.Sprintf("c%d", c))
		for i := range n {
			ds.Items = append(ds.Items, data.Item{Path: fmt.Sprintf("c%d/%d.png", c, i), Label: c,
				Meta: map[string]string{"site": fmt.Sprintf("s%d", i%sites)}})
		}
	}
	return ds
}

// maxShare is the mean over clients of the largest class's share.
func maxShare(parts []*data.Dataset) float64 {
	var s float64
	for _, p := range parts {
		cc := p.ClassCounts()
		s += float64(slices.Max(cc)) / float64(p.Len())
	}
	return s / float64(len(parts))
}

func TestPartition(t *testing.T) {
	ds := labelled(100, 8, 3)
	check := func(how string, parts []*data.Dataset) {
		seen := map[string]int{}
		for _, p := range parts {
			for _, it := range p.Items {
				seen[it.Path]++
			}
		}
		if len(seen) != ds.Len() {
			t.Errorf("%s: %d distinct items over the clients, want %d", how, len(seen), ds.Len())
		}
		for path, n := range seen {
			if n != 1 {
				t.Errorf("%s: %s given to %d clients", how, path, n)
				break
			}
		}
	}
	iid, err := Partition(ds, 5, "iid", 1)
	if err != nil {
		t.Fatal(err)
	}
	check("iid", iid)
	for _, p := range iid {
		if p.Len() != 160 {
			t.Errorf("iid client with %d items, want 160", p.Len())
		}
	}
	skew, err := Partition(ds, 5, "dirichlet:0.1", 1)
	if err != nil {
		t.Fatal(err)
	}
	check("dirichlet:0.1", skew)
	mild, err := Partition(ds, 5, "dirichlet:1000", 1)
	if err != nil {
		t.Fatal(err)
	}
	check("dirichlet:1000", mild)
	// Label skew: small alpha makes clients dominated by few classes; a
	// large one approaches the balanced 1/8.
	if a, b, c := maxShare(skew), maxShare(mild), maxShare(iid); !(a > 0.4 && b < 0.2 && c < 0.2) {
		t.Errorf("largest class share: alpha 0.1 %.2f, alpha 1000 %.2f, iid %.2f", a, b, c)
	}
	again, _ := Partition(ds, 5, "dirichlet:0.1", 1)
	for i := range skew {
		if !slices.Equal(skew[i].ClassCounts(), again[i].ClassCounts()) {
			t.Error("the same seed gave another partition")
		}
	}
	sites, err := Partition(ds, 0, "site", 1)
	if err != nil || len(sites) != 3 {
		t.Fatalf("site: %d clients, err %v", len(sites), err)
	}
	check("site", sites)
	for i, p := range sites {
		for _, it := range p.Items {
			if it.Meta["site"] != fmt.Sprintf("s%d", i) {
				t.Fatalf("site client %d holds an item of %s", i, it.Meta["site"])
			}
		}
	}
}

func TestPartitionErrors(t *testing.T) {
	ds := labelled(4, 2, 1)
	tests := []struct {
		k    int
		how  string
		want string
	}{
		{0, "iid", "0 clients"},
		{9, "iid", "9 clients for 8 items"},
		{2, "dirichlet:-1", "ALPHA must be"},
		{2, "dirichlet:x", "ALPHA must be"},
		{2, "site", "1 sites"},
		{2, "shards", "want iid"},
	}
	for _, tc := range tests {
		if _, err := Partition(ds, tc.k, tc.how, 1); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%d %s: error %v, want %q", tc.k, tc.how, err, tc.want)
		}
	}
}

func TestGammaMean(t *testing.T) {
	for _, shape := range []float64{0.3, 1, 4.5} {
		rng := newTestRand()
		var s float64
		const n = 20000
		for range n {
			s += gamma(rng, shape)
		}
		if m := s / n; m < shape*0.95 || m > shape*1.05 {
			t.Errorf("Gamma(%g) sample mean %.3f", shape, m)
		}
	}
}

func TestWritePartition(t *testing.T) {
	src := synthData(t, 30, 5)
	ds, err := data.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	parts, err := Partition(ds, 2, "iid", 1)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	sites, err := WritePartition(dir, parts)
	if err != nil || len(sites) != 2 {
		t.Fatalf("sites %v, err %v", sites, err)
	}
	for i, site := range sites {
		got, err := data.Open(site)
		if err != nil {
			t.Fatal(err)
		}
		if got.Len() != parts[i].Len() || got.Subset(data.Train).Len() != parts[i].Subset(data.Train).Len() {
			t.Errorf("%s: %d items (%d train), want %d (%d)", site, got.Len(), got.Subset(data.Train).Len(), parts[i].Len(), parts[i].Subset(data.Train).Len())
		}
		if _, err := got.Image(0); err != nil {
			t.Errorf("%s: first image: %v", site, err)
		}
	}
	if _, err := WritePartition(dir, parts); err == nil || !strings.Contains(err.Error(), "exists already") {
		t.Errorf("writing over a partition: %v", err)
	}
}
