package privacy

import (
	"encoding/json"
	"fmt"
	"html"
	"html/template"
	"os"
	"path/filepath"
	"strconv"

	"github.com/deepscope/deepscope/data"
	"github.com/deepscope/deepscope/report"
)

// LedgerFile is the ledger's name in a run directory.
const LedgerFile = "privacy.json"

// Ledger is what a DP-SGD run spent and how: enough to recompute its ε
// from the steps, sampling rate and noise alone.
type Ledger struct {
	Epsilon         float64 `json:"epsilon"` // spent so far, at Delta
	Delta           float64 `json:"delta"`
	TargetEpsilon   float64 `json:"target_epsilon,omitempty"` // the budget; 0: none set
	Steps           int     `json:"steps"`                    // noisy steps taken
	PlannedSteps    int     `json:"planned_steps"`            // steps the run was set up for
	SampleRate      float64 `json:"sample_rate"`              // Poisson sampling probability q
	NoiseMultiplier float64 `json:"noise_multiplier"`         // noise std over MaxGradNorm
	MaxGradNorm     float64 `json:"max_grad_norm"`            // per-sample clipping norm C
	ExpectedBatch   float64 `json:"expected_batch"`           // q·TrainExamples
	TrainExamples   int     `json:"train_examples"`
	Order           float64 `json:"optimal_order"` // the Rényi order that gives Epsilon
	Accountant      string  `json:"accountant"`
	// Covers says what the guarantee applies to.
	Covers string `json:"covers"`
}

// Covered is the standard Covers text of a DP-SGD training run.
const Covered = "every checkpoint and the final weights, with respect to adding or removing one training image; " +
	"not the training-loss figures, which are computed from the private images without noise"

// Fill sets Epsilon and Order from the other fields, for Steps steps.
func (l *Ledger) Fill() {
	a := NewAccountant(nil)
	a.Compose(l.SampleRate, l.NoiseMultiplier, l.Steps)
	l.Epsilon, l.Order = a.Epsilon(l.Delta)
	l.Accountant = AccountantName
}

// WriteLedger writes l to dir/privacy.json through a temporary file.
func WriteLedger(dir string, l *Ledger) error {
	b, err := json.MarshalIndent(l, "", "  ")
	if err != nil {
		return err
	}
	return data.WriteFileAtomic(filepath.Join(dir, LedgerFile), append(b, '\n'))
}

// ReadLedger reads dir/privacy.json. It returns nil and no error when the
// run has none (it was not trained with DP-SGD).
func ReadLedger(dir string) (*Ledger, error) {
	path := filepath.Join(dir, LedgerFile)
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("privacy: %w", err)
	}
	var l Ledger
	if err := json.Unmarshal(b, &l); err != nil {
		return nil, fmt.Errorf("privacy: %s: %w", path, err)
	}
	return &l, nil
}

// Section returns the ledger as a part of report.html.
func (l *Ledger) Section() report.Section {
	g := func(v float64) string { return strconv.FormatFloat(v, 'g', 4, 64) }
	spent := g(l.Epsilon)
	if l.TargetEpsilon > 0 {
		spent += " of a budget of " + g(l.TargetEpsilon)
	}
	rows := [][]string{
		{"ε (epsilon)", spent},
		{"δ (delta)", g(l.Delta)},
		{"steps", fmt.Sprintf("%d of %d planned", l.Steps, l.PlannedSteps)},
		{"sampling", fmt.Sprintf("Poisson, rate %s (%s of %d training images per step on average)", g(l.SampleRate), g(l.ExpectedBatch), l.TrainExamples)},
		{"noise multiplier", g(l.NoiseMultiplier)},
		{"clipping norm", g(l.MaxGradNorm)},
		{"optimal Rényi order", g(l.Order)},
		{"accountant", l.Accountant},
	}
	body := template.HTML("<p>The model was trained with DP-SGD. The guarantee covers " + html.EscapeString(l.Covers) + ".</p>")
	return report.Section{Title: "Differential privacy", Body: body + report.Table([]string{"quantity", "value"}, rows)}
}
