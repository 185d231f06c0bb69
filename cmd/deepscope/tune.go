package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/deepscope/deepscope/tensor"
	"github.com/deepscope/deepscope/train"
	"github.com/deepscope/deepscope/tune"
)

func init() { commands = append(commands, newTuneCmd) }

// tuneOwnFlags are train's flags that tune does not take as base config:
// it has its own --out, --config and --resume, and --seed seeds its sampling.
var tuneOwnFlags = map[string]bool{"out": true, "config": true, "resume": true, "no-report": true, "seed": true}

func newTuneCmd() *cobra.Command {
	var (
		o                          tune.Options
		spacePath, configFile, dir string
		resumeDir                  string
	)
	c := &cobra.Command{
		Use:   "tune --data PATH --space space.json --trials N --budget 60m [flags]",
		Short: "Search hyperparameters (random, grid or ASHA) and write a leaderboard and the best config",
		Long: `tune trains many configurations of one dataset and ranks them by a validation
metric. The search space is a JSON file naming train.Config fields:

  {"lr": {"log": [1e-4, 1e-2]}, "weight_decay": {"log": [1e-3, 0.1]},
   "batch": {"choice": [64, 128]}, "model": {"choice": ["cellnet"]},
   "dropout": {"uniform": [0, 0.3]}, "augment": {"choice": ["light", "standard", "strong"]},
   "label_smoothing": {"uniform": [0, 0.2]}, "epochs": {"int": [6, 15]}}

log draws log-uniformly, uniform uniformly, int a whole number (ends included),
choice one of the values. Every other option comes from --config and the train
flags (--size, --crop, --epochs, ...), which make the base config.

Strategies: random (seeded by --seed: the same seed gives the same trials), grid
(the Cartesian product of the choices and of --grid-points evenly spaced values of
each range, geometric for log ranges), and asha (random trials judged at rungs of
--min-epochs x --eta^k epochs; a trial among the best 1/eta at its rung goes on,
the others pause and are promoted later or pruned).

--budget is wall time: when it is spent no trial starts and running ones are
cancelled. --parallel K runs K trials at once with --threads/K threads each.
SEARCH/ gets a train run directory per trial, trials.jsonl (a line per change of
a trial's state), leaderboard.html and best.json; "deepscope train --config
SEARCH/best.json --out RUN" trains the best configuration again in full. A killed
or interrupted search continues with --resume SEARCH.`,
		Example: `  deepscope tune --data ../shared/data/pbc --size 28 --crop 0.556 --space space.json --strategy asha --budget 60m --parallel 2 --out search/pbc28
  deepscope tune --resume search/pbc28
  deepscope train --config search/pbc28/best.json --out runs/pbc28-tuned`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			f := cmd.Flags()
			o.Threads, o.Version = tensor.Threads(), version
			o.Log = cmd.ErrOrStderr()
			if resumeDir != "" {
				r := tune.Options{Out: resumeDir, Resume: true, Log: o.Log, Version: version, Threads: o.Threads}
				if f.Changed("budget") {
					r.Budget = mustDuration(f)
				}
				if f.Changed("trials") {
					r.Trials = o.Trials
				}
				if f.Changed("parallel") {
					r.Parallel = o.Parallel
				}
				o = r
			} else {
				if spacePath == "" {
					return fmt.Errorf("tune: --space FILE is needed (see deepscope tune --help for its form)")
				}
				sp, err := tune.LoadSpace(spacePath)
				if err != nil {
					return err
				}
				o.Space, o.Out = sp, dir
				if o.Base, err = tuneBase(f, configFile); err != nil {
					return err
				}
				o.Budget = mustDuration(f)
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			res, err := tune.Run(ctx, o)
			if res == nil {
				return err
			}
			out := cmd.OutOrStdout()
			if len(res.Trials) > 0 {
				if err := tune.WriteTable(out, res.Options.Space, res.Options.Metric, res.Trials); err != nil {
					return err
				}
			}
			fmt.Fprintf(out, "%d trials in %s (stopped: %s)\nleaderboard: %s\n", len(res.Trials), res.Spent.Round(time.Second), res.Stopped,
				filepath.Join(o.Out, tune.LeaderboardFile))
			if res.Best != nil {
				best := filepath.Join(o.Out, tune.BestFile)
				fmt.Fprintf(out, "best: trial %d, %.4f after %d epochs (%s); train it in full with: deepscope train --config %s --out RUN\n",
					res.Best.ID, res.Best.Metric, res.Best.Epochs, res.Best.Status, best)
			}
			if errors.Is(err, tune.ErrInterrupted) || res.Stopped == "budget" {
				fmt.Fprintf(cmd.ErrOrStderr(), "continue with: deepscope tune --resume %s [--budget MORE]\n", o.Out)
			}
			return err
		},
	}
	f := c.Flags()
	f.StringVar(&spacePath, "space", "", "search space, a JSON file (see above)")
	f.StringVar(&o.Strategy, "strategy", "asha", "random, grid or asha")
	f.IntVar(&o.Trials, "trials", 0, "trials to start (0: as many as --budget allows; grid: the whole grid)")
	f.Duration("budget", 0, "wall time for the whole search, e.g. 60m (0: no limit)")
	f.IntVar(&o.Parallel, "parallel", 1, "trials at once; each gets --threads/K kernel threads")
	f.Uint64Var(&o.Seed, "seed", 1, "seed of the sampling of trials")
	f.Uint64("train-seed", train.Defaults().Seed, "training seed of every trial (the base config's seed)")
	f.StringVar(&o.Metric, "metric", "accuracy", "validation metric to rank trials by: accuracy, auc or loss")
	f.IntVar(&o.ASHA.MinEpochs, "min-epochs", 1, "asha: epochs of the first rung")
	f.IntVar(&o.ASHA.Eta, "eta", 3, "asha: reduction factor; rungs at min-epochs x eta^k epochs")
	f.IntVar(&o.GridPoints, "grid-points", 3, "grid: values per range")
	f.BoolVar(&o.Baseline, "baseline", false, "make trial 1 the base config itself, to see what the search gains over it")
	f.StringVar(&dir, "out", "search", "search directory")
	f.StringVar(&configFile, "config", "", "JSON file of the base config (a run.json works); train flags override it")
	f.StringVar(&resumeDir, "resume", "", "continue the search in this directory (--budget, --trials and --parallel may change)")
	newTrainCmd().Flags().VisitAll(func(tf *pflag.Flag) {
		if !tuneOwnFlags[tf.Name] && f.Lookup(tf.Name) == nil {
			f.AddFlag(tf)
		}
	})
	return c
}

// tuneBase makes the base config: the defaults, then the --config file,
// then the train flags given; --train-seed, not --seed, sets its seed.
func tuneBase(f *pflag.FlagSet, configFile string) (train.Config, error) {
	cfg := train.Defaults()
	if configFile != "" {
		var err error
		if cfg, err = loadConfigFile(configFile); err != nil {
			return cfg, err
		}
	}
	seed := cfg.Seed // --seed is the search's; --train-seed sets this one
	if err := applyChangedFlags(f, &cfg); err != nil {
		return cfg, err
	}
	cfg.Seed = seed
	if f.Changed("train-seed") {
		cfg.Seed, _ = f.GetUint64("train-seed")
	}
	return cfg, nil
}

func mustDuration(f *pflag.FlagSet) time.Duration {
	d, _ := f.GetDuration("budget")
	return d
}
