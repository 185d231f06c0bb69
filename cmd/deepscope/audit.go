package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/spf13/cobra"

	"github.com/deepscope/deepscope/audit"
	"github.com/deepscope/deepscope/data"
	"github.com/deepscope/deepscope/eval"
	"github.com/deepscope/deepscope/report"
)

func init() { commands = append(commands, newAuditCmd) }

// Exit statuses of deepscope audit.
const (
	auditPass  = 0 // every checked gap within its limit
	auditFail  = 1 // a gap over its limit, or a criterion that could not be judged
	auditError = 2 // bad flags or data: nothing was audited
)

// auditExit ends the process with audit's exit status; tests replace it.
var auditExit = os.Exit

type auditOptions struct {
	dir, dataPath, split, groupBy, limitsFile, jsonOut, reportPath string
	maxGap, maxWidth                                               float64
	minSupport, minClassSupport, resamples                         int
	asJSON, significant, tta                                       bool
	seed                                                           uint64
}

func newAuditCmd() *cobra.Command {
	var o auditOptions
	c := &cobra.Command{
		Use:   "audit --model RUN --data MANIFEST --group-by COL[,COL...]",
		Short: "Compare a model's accuracy, error rates and calibration across sites, scanners or patient groups",
		Long: `audit runs the model of RUN on a split of a CSV manifest (as eval does: same
preprocessing, classes matched by name) and compares the groups named by the
manifest's columns (--group-by site,scanner; site+scanner groups by both at once).

Per group: support, accuracy, macro AUC and expected calibration error, and per class
the selection rate P(pred=c), true positive rate and false positive rate, each with
a bootstrap 95% interval drawn within each group. Between groups, for each class
one-vs-rest: the gap (largest - smallest) and ratio (smallest / largest) of
demographic parity (selection rate), equal opportunity (true positive rate) and
equalized odds (the larger of the true and false positive rate gaps), and of
accuracy. A criterion's verdict is its worst class.

Groups with fewer than --min-support images, and per-class rates with fewer than
--min-class-support images behind them or an interval wider than --max-width, are
shown but left out of the gaps. A criterion with a limit that no two groups can be
judged on is inconclusive, which fails the audit.

Limits: --max-gap G on every criterion (default 0.05), or --thresholds FILE:
  {"max_gap": {"equal_opportunity": 0.05, "accuracy": 0.03},
   "min_ratio": {"demographic_parity": 0.8}}
where only the criteria named are checked.

Exit status: 0 when every checked gap is within its limit, 1 when one is not (or
could not be judged), 2 when the audit could not run (bad flags, model or data).`,
		Example: `  deepscope audit --model runs/pbc --data shifted/manifest.csv --group-by site
  deepscope audit --model runs/cells --data cells/split.csv --group-by site --thresholds limits.json --json > audit.json
  deepscope audit --model runs/cells --data cells/split.csv --group-by site --report audit.html`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			code, err := runAudit(cmd, o)
			if err != nil {
				fmt.Fprintln(cmd.ErrOrStderr(), "deepscope audit:", err)
			}
			if code != auditPass {
				auditExit(code)
			}
			return nil
		},
	}
	c.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		fmt.Fprintf(cmd.ErrOrStderr(), "deepscope audit: %v\n\n%s", err, cmd.UsageString())
		auditExit(auditError)
		return err
	})
	f := c.Flags()
	f.StringVar(&o.dir, "model", "", "run directory (required)")
	f.StringVar(&o.dataPath, "data", "", "CSV manifest with the group columns (default: the run's own data)")
	f.StringVar(&o.split, "split", "test", "split to audit")
	f.StringVar(&o.groupBy, "group-by", "", "manifest columns to compare groups of, comma-separated; a+b for combinations (required)")
	f.Float64Var(&o.maxGap, "max-gap", 0.05, "largest gap accepted on every criterion")
	f.StringVar(&o.limitsFile, "thresholds", "", "JSON file of limits per criterion, instead of --max-gap")
	f.IntVar(&o.minSupport, "min-support", 30, "groups with fewer images are not judged")
	f.IntVar(&o.minClassSupport, "min-class-support", 10, "per-class rates with fewer images behind them are not judged")
	f.Float64Var(&o.maxWidth, "max-width", 0.5, "per-class rates whose interval is wider are not judged")
	f.BoolVar(&o.significant, "significant", false, "fail a gap only when its whole interval lies past the limit")
	f.IntVar(&o.resamples, "resamples", 1000, "bootstrap resamples (0: no intervals)")
	f.Uint64Var(&o.seed, "seed", 1, "bootstrap seed")
	f.BoolVar(&o.tta, "tta", false, "test-time augmentation (default: as the run was configured)")
	f.BoolVar(&o.asJSON, "json", false, "print the report as JSON instead of tables")
	f.StringVar(&o.jsonOut, "json-out", "", "also write the JSON report to this file")
	f.StringVar(&o.reportPath, "report", "", "also write an HTML report (the evaluation and the audit) to this file")
	c.MarkFlagRequired("model")
	c.MarkFlagRequired("group-by")
	return c
}

// runAudit audits as o says and returns the exit status.
func runAudit(cmd *cobra.Command, o auditOptions) (int, error) {
	limits := audit.MaxGapAll(o.maxGap)
	if o.limitsFile != "" {
		if cmd.Flags().Changed("max-gap") {
			return auditError, fmt.Errorf("give --max-gap or --thresholds, not both")
		}
		var err error
		if limits, err = audit.ReadLimits(o.limitsFile); err != nil {
			return auditError, err
		}
	}
	resamples := o.resamples
	if resamples == 0 {
		resamples = -1
	}
	eo := eval.Options{Data: o.dataPath, Split: o.split, Resamples: resamples}
	if cmd.Flags().Changed("tta") {
		eo.TTA = &o.tta
	}
	out, err := eval.Run(o.dir, eo)
	if err != nil {
		return auditError, err
	}
	r, err := eval.Audit(out, o.groupBy, audit.Config{Limits: limits, MinSupport: o.minSupport,
		MinClassSupport: o.minClassSupport, MaxWidth: o.maxWidth, Significant: o.significant,
		Resamples: resamples, Seed: o.seed})
	if err != nil {
		return auditError, err
	}
	if o.jsonOut != "" || o.asJSON {
		js, err := json.MarshalIndent(r, "", "  ")
		if err != nil {
			return auditError, err
		}
		js = append(js, '\n')
		if o.jsonOut != "" {
			if err := data.WriteFileAtomic(o.jsonOut, js); err != nil {
				return auditError, err
			}
		}
		if o.asJSON {
			if _, err := cmd.OutOrStdout().Write(js); err != nil {
				return auditError, err
			}
		}
	}
	if !o.asJSON {
		if err := r.WriteText(cmd.OutOrStdout()); err != nil {
			return auditError, err
		}
	}
	if o.reportPath != "" {
		page, err := eval.Page(o.dir, out, eo)
		if err != nil {
			return auditError, err
		}
		sec := r.Section() // replaces the page's own audit of a balanced run by the same column
		page.Sections = slices.DeleteFunc(page.Sections, func(s report.Section) bool { return s.Title == sec.Title })
		page.Sections = append(page.Sections, sec)
		if err := report.WriteFile(o.reportPath, page); err != nil {
			return auditError, err
		}
	}
	if r.Verdict != audit.Pass && r.Verdict != audit.NotChecked {
		printFailures(cmd.ErrOrStderr(), r)
		return auditFail, nil
	}
	return auditPass, nil
}

func printFailures(w io.Writer, r *audit.Report) {
	fmt.Fprintf(w, "deepscope audit: %s\n", r.Verdict)
	for _, f := range r.Failures() {
		fmt.Fprintln(w, "  "+f)
	}
}
