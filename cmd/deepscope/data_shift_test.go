package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/deepscope/deepscope/data"
	"github.com/deepscope/deepscope/synth"
)

func TestDataShift(t *testing.T) {
	m, err := synth.Generate(filepath.Join(t.TempDir(), "cells"), synth.Config{N: 80, Size: 16, Seed: 1, Sites: 1})
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "shifted")
	stdout, err := runDeepscope("data", "shift", "--data", m, "--out", out, "--shifts", "site,rescale:2", "--column", "lab")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout, "rescale:2") || !strings.Contains(stdout, "simulated") {
		t.Errorf("output:\n%s", stdout)
	}
	ds, err := data.Open(filepath.Join(out, "manifest.csv"))
	if err != nil {
		t.Fatal(err)
	}
	src, _ := data.Open(m)
	if n := src.Subset("test").Len(); ds.Len() != 3*n {
		t.Errorf("%d images, want 3 × %d", ds.Len(), n)
	}
	for _, bad := range [][]string{
		{"--shifts", "blur"},
		{"--shifts", "site"}, // the synthetic data has a site column already
		{"--shifts", "site", "--column", "lab", "--fraction", "2"},
	} {
		args := append([]string{"data", "shift", "--data", m, "--out", t.TempDir()}, bad...)
		if _, err := runDeepscope(args...); err == nil {
			t.Errorf("%v: no error", bad)
		}
	}
}
