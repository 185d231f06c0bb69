package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/deepscope/deepscope/fl"
)

func init() { flCommands = append(flCommands, newFLSimulateCmd) }

func newFLSimulateCmd() *cobra.Command {
	var cfg fl.SimConfig
	c := &cobra.Command{
		Use:   "simulate --data PATH --clients K --partition iid|dirichlet:ALPHA|site [flags]",
		Short: "Run federated training in one process over a partition of one dataset",
		Long: `simulate divides the train split of PATH among K simulated clients and runs the
federated rounds in one process, without a network: every client trains the global
model locally each round and the updates are aggregated as the server would (with
--secure, through the same pairwise masks). After each round it prints the global
model's accuracy on the val split; at the end, its accuracy and AUC on the test
split. --partition iid deals the images out evenly; dirichlet:ALPHA gives each
client class shares drawn from Dirichlet(ALPHA) (0.5: strong label skew);
site makes one client per value of a manifest's site column. With --out RUN the
global model is kept as a run directory that deepscope eval reads.`,
		Example: `  deepscope fl simulate --data ../shared/data/pbc --size 28 --crop 0.556 --clients 5 \
      --partition dirichlet:0.5 --rounds 30 --local-epochs 1 --out runs/fl-pbc`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if cfg.Data == "" {
				return fmt.Errorf("fl simulate: --data PATH is required")
			}
			cfg.Log, cfg.Version = cmd.OutOrStdout(), version
			ctx, stop := signalContext()
			defer stop()
			res, err := fl.Simulate(ctx, cfg)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if res.Test != nil {
				fmt.Fprintf(out, "test: accuracy %.4f, AUC %.4f on %d images\n", res.Test.Result.Accuracy, res.Test.Result.AUC, len(res.Test.Labels))
			}
			if res.Epsilon > 0 {
				fmt.Fprintf(out, "client-level privacy: epsilon %.3g at delta %g (noise %g, clip %g, %d rounds, every client every round)\n",
					res.Epsilon, res.Delta, cfg.Aggregate.DP.Noise, cfg.Aggregate.DP.Clip, cfg.Rounds)
			}
			if cfg.Out != "" {
				fmt.Fprintf(out, "global model: %s\n", cfg.Out)
			}
			return nil
		},
	}
	f := c.Flags()
	addRecipeFlags(f, &cfg.Recipe)
	f.StringVar(&cfg.Data, "data", "", "dataset with train/val/test splits (a seeded 70/10/20 split is drawn if it has none)")
	f.IntVar(&cfg.Clients, "clients", 5, "simulated clients (0 with --partition site: one per site)")
	f.StringVar(&cfg.Partition, "partition", "iid", "iid, dirichlet:ALPHA or site")
	f.StringVar(&cfg.Out, "out", "", "run directory for the global model (default: none)")
	return c
}
