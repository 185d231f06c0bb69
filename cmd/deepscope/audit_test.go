package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/deepscope/deepscope/audit"
	"github.com/deepscope/deepscope/eval"
)

// TestAuditCommand audits a tiny run by site and checks the exit status
// that gates a pipeline, the JSON and the HTML report.
func TestAuditCommand(t *testing.T) {
	run, dataDir := tinyRun(t)
	manifest := filepath.Join(dataDir, "split.csv")
	code := -1
	auditExit = func(c int) { code = c }
	defer func() { auditExit = os.Exit }()
	small := []string{"--min-support", "1", "--min-class-support", "1", "--max-width", "1", "--resamples", "50"}
	page := filepath.Join(t.TempDir(), "audit.html")
	limits := filepath.Join(t.TempDir(), "limits.json")
	if err := os.WriteFile(limits, []byte(`{"max_gap": {"accuracy": 1}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	graded, limits0 := gradedManifest(t, run, manifest), filepath.Join(t.TempDir(), "limits0.json")
	if err := os.WriteFile(limits0, []byte(`{"max_gap": {"accuracy": 0.5}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		code int
		out  string // in stdout
	}{
		{"groups too small", []string{"--group-by", "site"}, 1, "too small"},
		// 10 test images over 8 classes: no class is in both sites, so
		// equal opportunity cannot be judged, and that is no pass.
		{"a class in one site only", append([]string{"--group-by", "site", "--max-gap", "1"}, small...), 1, "verdict: INCONCLUSIVE"},
		{"limits file", append([]string{"--group-by", "site", "--thresholds", limits, "--report", page}, small...), 0, "verdict: PASS"},
		{"json", append([]string{"--group-by", "site", "--thresholds", limits, "--json"}, small...), 0, `"verdict": "pass"`},
		{"right and wrong", append([]string{"--data", graded, "--group-by", "graded", "--thresholds", limits0}, small...), 1, "verdict: FAIL"},
		{"unknown column", []string{"--group-by", "scanner"}, 2, ""},
		{"both limits", []string{"--group-by", "site", "--thresholds", limits, "--max-gap", "0.1"}, 2, ""},
	}
	for _, tc := range tests {
		code = 0
		args := append([]string{"audit", "--model", run}, tc.args...)
		if !strings.Contains(strings.Join(tc.args, " "), "--data") {
			args = append(args, "--data", manifest)
		}
		stdout, err := runDeepscope(args...)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if code != tc.code {
			t.Errorf("%s: exit %d, want %d\n%s", tc.name, code, tc.code, stdout)
		}
		if !strings.Contains(stdout, tc.out) {
			t.Errorf("%s: output lacks %q:\n%s", tc.name, tc.out, stdout)
		}
		if strings.Contains(strings.Join(tc.args, " "), "--json") {
			var r audit.Report
			if err := json.Unmarshal([]byte(stdout), &r); err != nil || len(r.Attributes) != 1 || r.Attributes[0].Name != "site" {
				t.Errorf("%s: JSON %v: %+v", tc.name, err, r)
			}
		}
	}
	b, err := os.ReadFile(page)
	if err != nil || !strings.Contains(string(b), "Audit by site") {
		t.Errorf("report %s: %v", page, err)
	}
}

// gradedManifest writes a copy of the manifest whose column "graded" says
// whether the model of run classifies each test image right, so that an
// audit by it must find an accuracy gap of 1.
func gradedManifest(t *testing.T, run, manifest string) string {
	t.Helper()
	out, err := eval.Run(run, eval.Options{Data: manifest, Resamples: -1})
	if err != nil {
		t.Fatal(err)
	}
	b := strings.Builder{}
	b.WriteString("path,label,split,graded\n")
	for i, idx := range out.Eval.Indices {
		it := out.Data.Items[idx]
		g := "wrong"
		if p := out.Eval.Probs[i]; slices.Index(p, slices.Max(p)) == out.Eval.Labels[i] {
			g = "right"
		}
		fmt.Fprintf(&b, "%s,%s,test,%s\n", it.Path, out.Data.Classes[out.Eval.Labels[i]], g)
	}
	path := filepath.Join(filepath.Dir(manifest), "graded.csv")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
