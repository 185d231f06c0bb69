package eval

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deepscope/deepscope/privacy"
	"github.com/deepscope/deepscope/synth"
	"github.com/deepscope/deepscope/train"
)

// TestReportShowsPrivacyLedger trains a tiny DP-SGD run and checks that
// its report carries the ledger's figures, and that a plain run's report
// has no privacy section.
func TestReportShowsPrivacyLedger(t *testing.T) {
	root := t.TempDir()
	manifest, err := synth.Generate(filepath.Join(root, "data"), synth.Config{N: 160, Size: 16, Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	cfg := train.Defaults()
	cfg.Data, cfg.Size, cfg.Epochs, cfg.Batch, cfg.TTA = manifest, 16, 1, 16, false
	cfg.DP, cfg.TargetEpsilon, cfg.Delta = true, 4, 1e-3
	dir := filepath.Join(root, "run")
	if _, err := train.Run(context.Background(), cfg, train.Options{Out: dir}); err != nil {
		t.Fatal(err)
	}
	out, err := Run(dir, Options{Resamples: 20})
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteReport(dir, out, Options{}); err != nil {
		t.Fatal(err)
	}
	l, err := privacy.ReadLedger(dir)
	if err != nil || l == nil {
		t.Fatalf("ledger %v, error %v", l, err)
	}
	page, err := os.ReadFile(filepath.Join(dir, train.ReportFile))
	if err != nil {
		t.Fatal(err)
	}
	sec := l.Section()
	for _, want := range []string{"Differential privacy", string(sec.Body)} {
		if !strings.Contains(string(page), want) {
			t.Errorf("report.html lacks %.80q", want)
		}
	}
	if !strings.Contains(string(sec.Body), "of a budget of 4") || !strings.Contains(string(sec.Body), "DP-SGD") {
		t.Errorf("privacy section %s", sec.Body)
	}

	// Without a ledger there is no section.
	if err := os.Remove(filepath.Join(dir, privacy.LedgerFile)); err != nil {
		t.Fatal(err)
	}
	p, err := Page(dir, out, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range p.Sections {
		if s.Title == "Differential privacy" {
			t.Error("a run without a ledger got a privacy section")
		}
	}
}
