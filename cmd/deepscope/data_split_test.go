package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDataSplit(t *testing.T) {
	dir := t.TempDir()
	var manifest strings.Builder
	manifest.WriteString("path,label,patient\n")
	for i := range 40 {
		p := fmt.Sprintf("img/%02d.png", i)
		writePNG(t, filepath.Join(dir, p), 8, i)
		fmt.Fprintf(&manifest, "%s,%s,P%d\n", p, []string{"benign", "malignant"}[i%2], i/4)
	}
	in := filepath.Join(dir, "manifest.csv")
	os.WriteFile(in, []byte(manifest.String()), 0o644)
	run := func(args ...string) (string, error) {
		root := newRoot()
		var out bytes.Buffer
		root.SetOut(&out)
		root.SetErr(&out)
		root.SetArgs(append([]string{"data", "split"}, args...))
		err := root.Execute()
		return out.String(), err
	}
	out, err := run(in, "--val", "0.2", "--test", "0.2", "--group-by", "patient", "--seed", "3")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "patients") || !strings.Contains(out, "wrote "+filepath.Join(dir, "split.csv")) {
		t.Errorf("output:\n%s", out)
	}
	b, err := os.ReadFile(filepath.Join(dir, "split.csv"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 41 || lines[0] != "path,label,split,patient" {
		t.Fatalf("manifest header %q, %d lines", lines[0], len(lines))
	}
	where := map[string]string{}
	for _, l := range lines[1:] {
		f := strings.Split(l, ",")
		if w, ok := where[f[3]]; ok && w != f[2] {
			t.Errorf("patient %s in %s and %s", f[3], w, f[2])
		}
		where[f[3]] = f[2]
	}
	// The output exists now: refused without --force, and the same seed
	// gives the same file.
	if _, err := run(in, "--group-by", "patient"); err == nil || !strings.Contains(err.Error(), "--force") {
		t.Errorf("overwrite without --force: %v", err)
	}
	if _, err := run(in, "--val", "0.2", "--test", "0.2", "--group-by", "patient", "--seed", "3", "--force"); err != nil {
		t.Fatal(err)
	}
	again, _ := os.ReadFile(filepath.Join(dir, "split.csv"))
	if !bytes.Equal(again, b) {
		t.Error("same seed wrote a different manifest")
	}
	if _, err := run(in, "--val", "0.6", "--test", "0.5", "--out", filepath.Join(dir, "x.csv")); err == nil {
		t.Error("fractions over 1 accepted")
	}
}
