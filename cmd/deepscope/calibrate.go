package main

import (
	"github.com/spf13/cobra"

	"github.com/deepscope/deepscope/train"
)

func init() { commands = append(commands, newCalibrateCmd) }

func newCalibrateCmd() *cobra.Command {
	var dir string
	c := &cobra.Command{
		Use:   "calibrate --model RUN",
		Short: "Fit the run's softmax temperature on its validation split (train does this when it ends)",
		Long: `calibrate fits one temperature T that divides the model's logits before the softmax,
chosen to minimise the log-loss on the run's validation split with the run's
test-time augmentation (Guo et al. 2017, temperature scaling), and records it in
RUN/run.json. eval, predict and serve then give calibrated probabilities.
Training runs this when it ends; use it for runs made before, then eval again.`,
		Example: "  deepscope calibrate --model runs/pbc28",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			_, err := train.Calibrate(dir, cmd.OutOrStdout())
			return err
		},
	}
	c.Flags().StringVar(&dir, "model", "", "run directory (required)")
	c.MarkFlagRequired("model")
	return c
}
