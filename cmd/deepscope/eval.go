package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/deepscope/deepscope/eval"
	"github.com/deepscope/deepscope/report"
)

func init() { commands = append(commands, newEvalCmd) }

func newEvalCmd() *cobra.Command {
	var (
		dir, dataPath, split, reportPath string
		asJSON, tta                      bool
		resamples                        int
	)
	c := &cobra.Command{
		Use:   "eval --model RUN [--data PATH] [--split test]",
		Short: "Measure a trained run on held-out data: accuracy, AUC, F1, calibration, with 95% intervals",
		Long: `eval runs the model of RUN on a split of a dataset (by default the run's own data and
its test split) with the run's preprocessing, and prints accuracy, balanced accuracy,
macro and weighted F1, per-class precision and recall, one-vs-rest AUC, the confusion
matrix and expected calibration error, each with a bootstrap 95% interval.
The data may hold a subset of the model's classes (matched by name).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			o := eval.Options{Data: dataPath, Split: split, Resamples: resamples}
			if cmd.Flags().Changed("tta") {
				o.TTA = &tta
			}
			out, err := eval.Run(dir, o)
			if err != nil {
				return err
			}
			if reportPath != "" {
				page, err := eval.Page(dir, out, o)
				if err != nil {
					return err
				}
				if err := report.WriteFile(reportPath, page); err != nil {
					return err
				}
			}
			if asJSON {
				b, err := json.Marshal(out.Eval.Result)
				if err != nil {
					return err
				}
				_, err = fmt.Fprintln(cmd.OutOrStdout(), string(b))
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), eval.Summary(out.Eval.Result))
			for _, pc := range out.Eval.Result.PerClass {
				fmt.Fprintf(cmd.OutOrStdout(), "  %-14s n=%-5d precision %.4f %v  recall %.4f %v  AUC %.4f\n",
					pc.Name, pc.Support, pc.Precision, pc.PrecisionCI, pc.Recall, pc.RecallCI, pc.AUC)
			}
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&dir, "model", "", "run directory (required)")
	f.StringVar(&dataPath, "data", "", "dataset to measure (default: the run's own)")
	f.StringVar(&split, "split", "test", "split to measure")
	f.BoolVar(&asJSON, "json", false, "print the measures as one JSON object")
	f.BoolVar(&tta, "tta", false, "test-time augmentation (default: as the run was configured)")
	f.IntVar(&resamples, "resamples", 1000, "bootstrap resamples for the intervals")
	f.StringVar(&reportPath, "report", "", "also write an HTML report to this file")
	c.MarkFlagRequired("model")
	return c
}
