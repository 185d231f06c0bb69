package eval

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deepscope/deepscope/audit"
	"github.com/deepscope/deepscope/synth"
	"github.com/deepscope/deepscope/train"
)

// TestAuditOfBalancedRun: a run balanced by site gets an audit by site in
// its report; Audit names a missing column.
func TestAuditOfBalancedRun(t *testing.T) {
	root := t.TempDir()
	manifest, err := synth.Generate(filepath.Join(root, "data"), synth.Config{N: 160, Size: 16, Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	cfg := train.Defaults()
	cfg.Data, cfg.Size, cfg.Epochs, cfg.Batch, cfg.TTA, cfg.BalanceBy = manifest, 16, 1, 16, false, "site"
	dir := filepath.Join(root, "run")
	if _, err := train.Run(context.Background(), cfg, train.Options{Out: dir}); err != nil {
		t.Fatal(err)
	}
	out, err := Run(dir, Options{Resamples: 20})
	if err != nil {
		t.Fatal(err)
	}
	r, err := Audit(out, "site", audit.Config{Resamples: 20, MinSupport: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Attributes) != 1 || len(r.Attributes[0].Groups) != 2 || r.N != out.Data.Len() {
		t.Errorf("audit by site: %+v", r.Attributes)
	}
	if _, err := Audit(out, "scanner", audit.Config{}); err == nil || !strings.Contains(err.Error(), "scanner") {
		t.Errorf("missing column: %v", err)
	}
	p, err := Page(dir, out, Options{Resamples: 20})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, s := range p.Sections {
		found = found || s.Title == "Audit by site" && strings.Contains(string(s.Body), "site2")
	}
	if !found {
		t.Error("the report of a run balanced by site has no audit by site")
	}
}
