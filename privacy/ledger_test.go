package privacy

import (
	"math"
	"os"
	"path/filepath"
	"testing"
)

// TestLedgerRoundTrip checks that a ledger's ε is the accountant's for its
// steps, that it reads back unchanged, and that a missing or broken file
// is told apart.
func TestLedgerRoundTrip(t *testing.T) {
	dir := t.TempDir()
	if l, err := ReadLedger(dir); l != nil || err != nil {
		t.Fatalf("empty run: ledger %v, error %v", l, err)
	}
	l := &Ledger{Delta: 1e-5, TargetEpsilon: 8, Steps: 500, PlannedSteps: 1000, SampleRate: 0.01,
		NoiseMultiplier: 1.1, MaxGradNorm: 1, ExpectedBatch: 64, TrainExamples: 6400, Covers: Covered}
	l.Fill()
	want, _ := Epsilon(0.01, 1.1, 500, 1e-5)
	if l.Epsilon != want || !(l.Epsilon > 0) {
		t.Errorf("ledger epsilon %g, accountant %g", l.Epsilon, want)
	}
	if err := WriteLedger(dir, l); err != nil {
		t.Fatal(err)
	}
	got, err := ReadLedger(dir)
	if err != nil {
		t.Fatal(err)
	}
	if *got != *l {
		t.Errorf("read back %+v, wrote %+v", got, l)
	}
	if err := os.WriteFile(filepath.Join(dir, LedgerFile), []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadLedger(dir); err == nil {
		t.Error("a truncated ledger read without error")
	}
	if math.IsNaN(l.Order) {
		t.Error("order is NaN")
	}
}
