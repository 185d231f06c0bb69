package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDataSynth(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cells")
	tests := []struct {
		args []string
		want string // in the output, or in the error when fail
		fail bool
	}{
		{[]string{"data", "synth", "--out", dir, "--n", "12", "--size", "16", "--classes", "neutrophil,lymphocyte,platelet"}, "wrote 12 images", false},
		{[]string{"data", "synth"}, "--out DIR is required", true},
		{[]string{"data", "synth", "--out", dir, "--classes", "blast"}, `unknown class "blast"`, true},
		{[]string{"data", "synth", "--out", dir, "--difficulty", "2"}, "difficulty 2 out of range", true},
	}
	for _, tc := range tests {
		root := newRoot()
		var out bytes.Buffer
		root.SetOut(&out)
		root.SetErr(&out)
		root.SetArgs(tc.args)
		err := root.Execute()
		switch {
		case tc.fail && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%v: error %v, want one containing %q", tc.args, err, tc.want)
		case !tc.fail && (err != nil || !strings.Contains(out.String(), tc.want)):
			t.Errorf("%v: error %v, output %q, want %q", tc.args, err, out.String(), tc.want)
		}
	}
	m, err := os.ReadFile(filepath.Join(dir, "split.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if lines := strings.Count(string(m), "\n"); lines != 13 || !strings.HasPrefix(string(m), "path,label,split,site\n") {
		t.Errorf("manifest has %d lines:\n%s", lines, m)
	}
}
