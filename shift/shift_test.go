package shift

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deepscope/deepscope/data"
	"github.com/deepscope/deepscope/synth"
	"github.com/deepscope/deepscope/tensor"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in, want string // want: shift name, or an error fragment after "!"
	}{
		{"rescale:2", "rescale:2"},
		{" Site ", "site"},
		{"restain", "restain"},
		{"relight", "relight"},
		{"rescale", "!want rescale:F"},
		{"rescale:1", "!not 1"},
		{"rescale:9", "![0.2, 5]"},
		{"restain:2", "!takes no parameter"},
		{"blur", "!unknown shift"},
		{"../x", "!is not a shift"},
	}
	for _, tc := range tests {
		s, err := Parse(tc.in)
		if strings.HasPrefix(tc.want, "!") {
			if err == nil || !strings.Contains(err.Error(), tc.want[1:]) {
				t.Errorf("Parse(%q): %v, want error with %q", tc.in, err, tc.want[1:])
			}
			continue
		}
		if err != nil || s.Name != tc.want || s.Transform == nil {
			t.Errorf("Parse(%q) = %+v, %v", tc.in, s, err)
		}
	}
	if _, err := ParseList("site,site"); err == nil {
		t.Error("ParseList accepted a shift twice")
	}
}

// cells writes a small synthetic dataset and returns it.
func cells(t *testing.T, n int) *data.Dataset {
	t.Helper()
	m, err := synth.Generate(filepath.Join(t.TempDir(), "cells"), synth.Config{N: n, Size: 24, Seed: 2, Sites: 1})
	if err != nil {
		t.Fatal(err)
	}
	ds, err := data.Open(m)
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

func TestWrite(t *testing.T) {
	ds := cells(t, 80)
	nTest := ds.Subset("test").Len()
	shifts, err := ParseList("site,rescale:2")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Write(ds, t.TempDir(), Config{Shifts: shifts}); err == nil || !strings.Contains(err.Error(), `column "site"`) {
		t.Errorf("a clash with the source's site column: %v", err)
	}
	tests := []struct {
		name     string
		split    string
		fraction float64
		want     map[string]int
	}{
		{"paired", "test", 1, map[string]int{"original": nTest, "site": nTest, "rescale:2": nTest}},
		{"second site", "", 0.5, nil}, // checked below: every image once
		{"two-site training set", "all", 0.5, nil},
	}
	for _, tc := range tests {
		out := t.TempDir()
		sum, err := Write(ds, out, Config{Split: tc.split, Shifts: shifts, Fraction: tc.fraction, Column: "lab", Seed: 4, Workers: 2})
		if err != nil {
			t.Fatal(err)
		}
		back, err := data.Open(sum.Manifest)
		if err != nil {
			t.Fatal(err)
		}
		count := map[string]int{}
		sources := map[string]int{}
		wantN := nTest
		if tc.split == "all" {
			wantN = ds.Len()
			if got, want := back.Splits(), ds.Splits(); strings.Join(got, ",") != strings.Join(want, ",") || back.Subset("train").Len() != ds.Subset("train").Len() {
				t.Errorf("%s: splits %v, want the source's %v", tc.name, got, want)
			}
		}
		for _, it := range back.Items {
			count[it.Meta["lab"]]++
			sources[it.Meta["source"]]++
			if tc.split != "all" && it.Split != "test" || it.Meta["site"] != "site1" {
				t.Errorf("%s: item %+v lost its split or metadata", tc.name, it)
			}
		}
		if tc.want != nil {
			for g, n := range tc.want {
				if count[g] != n {
					t.Errorf("%s: group %s has %d images, want %d", tc.name, g, count[g], n)
				}
			}
		} else {
			if len(back.Items) != wantN || len(sources) != wantN {
				t.Errorf("%s: %d images from %d sources, want each of %d once", tc.name, len(back.Items), len(sources), wantN)
			}
			if shifted := count["site"] + count["rescale:2"]; math.Abs(float64(shifted)-0.5*float64(wantN)) > 8 {
				t.Errorf("%s: %d of %d images shifted, want about half", tc.name, shifted, wantN)
			}
		}
		readme, err := os.ReadFile(filepath.Join(out, ReadmeName))
		if err != nil || !strings.Contains(string(readme), "SIMULATED") {
			t.Errorf("%s: README %v", tc.name, err)
		}
		// A shifted copy differs from its original.
		var orig, moved *tensor.Tensor
		for i, it := range back.Items {
			if it.Meta["source"] != back.Items[0].Meta["source"] {
				continue
			}
			img, err := back.Image(i)
			if err != nil {
				t.Fatal(err)
			}
			if it.Meta["lab"] == "original" {
				orig = img
			} else if it.Meta["lab"] == "site" {
				moved = img
			}
		}
		if orig != nil && moved != nil && meanAbs(orig, moved) < 0.02 {
			t.Errorf("%s: the site shift changed an image by only %.4f", tc.name, meanAbs(orig, moved))
		}
	}
}

func meanAbs(a, b *tensor.Tensor) float64 {
	var s float64
	for i := range a.Data {
		s += math.Abs(float64(a.Data[i] - b.Data[i]))
	}
	return s / float64(len(a.Data))
}

// TestPreparation: Reinhard normalisation, fitted on one site, brings the
// simulated second site's colour back, and a Preparation read back from
// JSON prepares images exactly as the original.
func TestPreparation(t *testing.T) {
	for _, bad := range []struct {
		stain string
		crop  float64
	}{{"vahadane", 0}, {"", 0.5}, {"", -1}} {
		if _, err := NewPreparation(bad.stain, bad.crop, 32); err == nil {
			t.Errorf("NewPreparation(%q, %g) accepted", bad.stain, bad.crop)
		}
	}
	if p, err := NewPreparation("none", 0, 32); p != nil || err != nil {
		t.Errorf("a preparation that does nothing: %v, %v", p, err)
	}
	ds := cells(t, 40)
	var refs, shifted []*tensor.Tensor
	site, _ := Parse("site")
	for i := range ds.Items {
		img, err := ds.Image(i)
		if err != nil {
			t.Fatal(err)
		}
		refs = append(refs, img)
		shifted = append(shifted, site.Transform.Apply(img, nil))
	}
	p, err := NewPreparation("reinhard", 3, 24)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Fit(refs); err != nil {
		t.Fatal(err)
	}
	var before, after float64
	for i := range refs {
		before += meanAbs(refs[i], shifted[i])
		after += meanAbs(p.Apply(refs[i], nil), p.Apply(shifted[i], nil))
	}
	t.Logf("mean difference between sites: %.4f raw, %.4f prepared", before/40, after/40)
	if after > before/2 {
		t.Errorf("mean difference between sites %.4f before and %.4f after preparation: want it at least halved", before/40, after/40)
	}
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var q Preparation
	if err := json.Unmarshal(b, &q); err != nil {
		t.Fatal(err)
	}
	x, y := p.Apply(shifted[3], nil), q.Apply(shifted[3], nil)
	if x.Dim(0) != 24 || meanAbs(x, y) != 0 {
		t.Errorf("the preparation read back from JSON differs (shape %v, difference %g)", y.Shape, meanAbs(x, y))
	}
}
