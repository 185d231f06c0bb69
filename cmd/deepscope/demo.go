package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/deepscope/deepscope/eval"
	"github.com/deepscope/deepscope/synth"
	"github.com/deepscope/deepscope/train"
)

func init() { commands = append(commands, newDemoCmd) }

func newDemoCmd() *cobra.Command {
	var (
		out       string
		n, epochs int
		size      int
		seed      uint64
	)
	c := &cobra.Command{
		Use:   "demo",
		Short: "Generate microscopy-like blood cells, train a model on them, evaluate it and write report.html",
		Long: `demo shows the whole job on built-in data: it draws a seeded set of synthetic
blood-smear cells (eight classes that differ in nucleus shape, size, granules and
cytoplasm colour, from two simulated sites), trains CellNet on them, evaluates it on
the held-out test split and writes OUT/run/report.html. A few minutes on two cores.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			log := cmd.ErrOrStderr()
			dataDir := filepath.Join(out, "data")
			manifest := filepath.Join(dataDir, synth.ManifestName)
			if _, err := os.Stat(manifest); err != nil {
				fmt.Fprintf(log, "generating %d synthetic cell images in %s\n", n, dataDir)
				if manifest, err = synth.Generate(dataDir, synth.Config{N: n, Size: size, Seed: seed}); err != nil {
					return err
				}
			}
			runDir := filepath.Join(out, "run")
			if err := os.RemoveAll(runDir); err != nil {
				return err
			}
			cfg := train.Defaults()
			cfg.Data, cfg.Size, cfg.Epochs, cfg.Seed, cfg.Batch = manifest, size, epochs, seed, 64
			sum, err := train.Run(context.Background(), cfg, train.Options{Out: runDir, Log: log, Version: version})
			if err != nil {
				return err
			}
			fmt.Fprintf(log, "trained %d epochs in %.0fs (%.0f img/s)\n", sum.Epochs, sum.Seconds, sum.ImgPerSec)
			res, err := eval.Run(runDir, eval.Options{})
			if err != nil {
				return err
			}
			if err := eval.WriteReport(runDir, res, eval.Options{}); err != nil {
				return err
			}
			abs, _ := filepath.Abs(filepath.Join(runDir, train.ReportFile))
			fmt.Fprintf(cmd.OutOrStdout(), "test: %s\nreport: %s\n", eval.Summary(res.Eval.Result), abs)
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&out, "out", "demo", "directory for the generated data and the run")
	f.IntVar(&n, "n", 2400, "synthetic images to generate")
	f.IntVar(&size, "size", 32, "image side in pixels")
	f.IntVar(&epochs, "epochs", 8, "training epochs")
	f.Uint64Var(&seed, "seed", 1, "seed for the data and the training")
	return c
}
