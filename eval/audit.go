package eval

import (
	"fmt"

	"github.com/deepscope/deepscope/audit"
)

// Audit compares the groups of an outcome's images named by groupBy (the
// data's manifest columns, comma-separated; see audit.Columns) with
// audit.Run: accuracy, AUC, calibration and per-class error rates per
// group, and the gaps between groups.
func Audit(out *Outcome, groupBy string, cfg audit.Config) (*audit.Report, error) {
	if out.Model.Info.MultiLabel {
		return nil, fmt.Errorf("eval: %s is a multi-label model; an audit measures single-label classifiers", out.Model.Dir)
	}
	ev := out.Eval
	meta := make([]map[string]string, len(ev.Indices))
	for i, idx := range ev.Indices {
		meta[i] = out.Data.Items[idx].Meta
	}
	cols, err := audit.Columns(groupBy, meta)
	if err != nil {
		return nil, err
	}
	return audit.Run(audit.Data{Labels: ev.Labels, Probs: ev.Probs, Classes: out.Model.Info.Classes, Columns: cols}, cfg)
}

// auditSection returns the report section of an audit by the run's
// balance_by column, when it has one and the data carries it.
func auditSection(out *Outcome, o Options) (*audit.Report, bool) {
	col := out.Model.Info.Config.BalanceBy
	if col == "" || out.Model.Info.MultiLabel {
		return nil, false
	}
	r, err := Audit(out, col, audit.Config{Resamples: o.Resamples, Seed: out.Model.Info.Config.Seed})
	return r, err == nil
}
