package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"reflect"
	"strconv"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/deepscope/deepscope/eval"
	"github.com/deepscope/deepscope/models"
	"github.com/deepscope/deepscope/train"
)

func init() { commands = append(commands, newTrainCmd) }

func newTrainCmd() *cobra.Command {
	var (
		fc               train.Config
		out, configFile  string
		resume, noReport bool
	)
	d := train.Defaults()
	c := &cobra.Command{
		Use:   "train --data PATH [flags]",
		Short: "Train a classifier and write a run directory with checkpoints, logs and report.html",
		Long: `train fits a model to a labelled image dataset (a folder of class folders, a CSV
manifest with path,label[,split,...] columns, or a MedMNIST .npz) and writes RUN/:
run.json (the full config, data fingerprint, preprocessing), checkpoint.safetensors
and best.safetensors, metrics.jsonl, TensorBoard event files in tb/, eval.json and
report.html for the test split. Before the test, a softmax temperature is fitted on
the validation split and kept in run.json, so that reported probabilities are
calibrated (see deepscope calibrate).

Everything but --data has a default tuned for single-cell images. --config FILE
reads the options as JSON (the "config" object of a run.json works); flags given
on the command line win over the file. --resume RUN continues a run that was
stopped, exactly where it stopped.`,
		Example: `  deepscope train --data ../shared/data/pbc --size 28 --crop 0.556 --out runs/pbc28
  deepscope train --resume --out runs/pbc28
  deepscope train --data ../shared/data/pbc --size 28 --crop 0.556 --dp --target-epsilon 8 --delta 1e-5 --max-grad-norm 1 --out runs/pbc28-dp`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if resume && out == "" {
				return fmt.Errorf("train: --resume needs --out RUN")
			}
			cfg := train.Defaults()
			if configFile != "" {
				var err error
				if cfg, err = loadConfigFile(configFile); err != nil {
					return err
				}
			}
			if err := applyChangedFlags(cmd.Flags(), &cfg); err != nil {
				return err
			}
			if out == "" {
				out = "runs/" + strings.ReplaceAll(cfg.WithDefaults().Model, "/", "-")
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			sum, err := train.Run(ctx, cfg, train.Options{Out: out, Resume: resume, Log: cmd.ErrOrStderr(), Version: version})
			if err == train.ErrInterrupted {
				fmt.Fprintf(cmd.ErrOrStderr(), "stopped; continue with: deepscope train --resume --out %s\n", out)
				return err
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "trained %d epochs in %.0fs (%.0f img/s); best epoch %d (%s); stopped by %s\n",
				sum.Epochs, sum.Seconds, sum.ImgPerSec, sum.BestEpoch, strconv.FormatFloat(sum.Best, 'f', 4, 64), sum.Stopped)
			if noReport {
				return nil
			}
			return evaluateAndReport(cmd, out, eval.Options{})
		},
	}
	f := c.Flags()
	f.StringVar(&fc.Data, "data", "", "dataset: class folders, a CSV manifest or a MedMNIST .npz (required)")
	f.StringVar(&fc.Split, "split", "", "CSV manifest whose split column assigns train/val/test (default: the data's own, else a seeded 70/10/20 split)")
	f.StringVar(&fc.Model, "model", d.Model, "model: "+strings.Join(models.Names(), ", "))
	f.IntVar(&fc.Size, "size", d.Size, "input side in pixels")
	f.Float64Var(&fc.Crop, "crop", d.Crop, "centre fraction of each side kept before resizing (BloodMNIST's 28 px protocol: 0.556)")
	f.IntVar(&fc.Epochs, "epochs", d.Epochs, "epochs")
	f.IntVar(&fc.Batch, "batch", d.Batch, "batch size")
	f.StringVar(&fc.Optimizer, "optimizer", d.Optimizer, "adamw, adam or sgd")
	f.Float64Var(&fc.LR, "lr", d.LR, "peak learning rate")
	f.Float64Var(&fc.WeightDecay, "weight-decay", d.WeightDecay, "weight decay")
	f.StringVar(&fc.Schedule, "schedule", d.Schedule, "learning-rate schedule: cosine, onecycle, step or constant")
	f.Float64Var(&fc.WarmupEpochs, "warmup-epochs", d.WarmupEpochs, "linear warm-up in epochs")
	f.Float64Var(&fc.LabelSmoothing, "label-smoothing", d.LabelSmoothing, "label smoothing")
	f.Float64Var(&fc.Dropout, "dropout", d.Dropout, "dropout before the classifier (0: the model's default)")
	f.Float64Var(&fc.ClipNorm, "clip-norm", 0, "clip the gradient norm to this (0: off)")
	f.StringVar(&fc.Augment, "augment", d.Augment, "augmentation: none, light, standard or strong")
	f.StringVar(&fc.BalanceBy, "balance-by", "", "manifest column (site, scanner, ...) whose groups count equally in the loss; weights stored in run.json")
	f.StringVar(&fc.StainNorm, "stain-norm", "", "normalise every image's stain to a target fitted on training images: reinhard or macenko (kept in run.json for eval, predict and serve)")
	f.Float64Var(&fc.CellCrop, "cell-crop", 0, "crop every image around its cell's nucleus, this many nucleus diameters wide (e.g. 3), so magnification stops mattering; 0: off")
	f.StringVar(&fc.Monitor, "monitor", d.Monitor, "validation metric for the best checkpoint: auc, accuracy or loss")
	f.IntVar(&fc.Patience, "patience", d.Patience, "stop after this many epochs without improvement (0: never)")
	f.BoolVar(&fc.TTA, "tta", d.TTA, "test-time augmentation: average over flips and rotations when evaluating")
	f.Uint64Var(&fc.Seed, "seed", d.Seed, "random seed")
	f.IntVar(&fc.Workers, "workers", 0, "image decoding goroutines (0: one per core)")
	f.StringVar(&fc.Device, "device", "cpu", "where training runs: cpu, or cuda for the first NVIDIA GPU (ResNet family and CellNet)")
	f.IntVar(&fc.CheckpointEvery, "checkpoint-every", 50, "steps between mid-epoch checkpoints (0: at epoch ends only)")
	f.BoolVar(&fc.DP, "dp", false, "train with differential privacy (DP-SGD): Poisson-sampled batches, per-image clipping, Gaussian noise; writes RUN/privacy.json")
	f.Float64Var(&fc.TargetEpsilon, "target-epsilon", 0, "DP: privacy budget epsilon; the noise is chosen to spend it over --epochs, and training stops before exceeding it")
	f.Float64Var(&fc.Delta, "delta", 1e-5, "DP: delta, well below 1/(training images)")
	f.Float64Var(&fc.MaxGradNorm, "max-grad-norm", 1, "DP: clip each image's gradient to this L2 norm")
	f.Float64Var(&fc.NoiseMultiplier, "noise-multiplier", 0, "DP: noise standard deviation over --max-grad-norm (0: chosen from --target-epsilon)")
	f.StringVar(&out, "out", "", "run directory (default runs/MODEL)")
	f.StringVar(&configFile, "config", "", "JSON file of options; flags override it")
	f.BoolVar(&resume, "resume", false, "continue the run in --out from its last checkpoint")
	f.BoolVar(&noReport, "no-report", false, "skip the test evaluation and report.html")
	return c
}

// loadConfigFile reads a Config from JSON: a bare config or a run.json.
func loadConfigFile(path string) (train.Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return train.Config{}, fmt.Errorf("train: %w", err)
	}
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(b, &probe); err != nil {
		return train.Config{}, fmt.Errorf("train: %s: %w", path, err)
	}
	if inner, ok := probe["config"]; ok {
		c := train.Defaults()
		if err := json.Unmarshal(inner, &c); err != nil {
			return c, fmt.Errorf("train: %s: %w", path, err)
		}
		return c, nil
	}
	return train.LoadConfig(path)
}

// applyChangedFlags copies the flags given on the command line into cfg.
// A flag --a-b sets the config's JSON field a_b; flags that are not config
// fields (--out, --config, ...) are skipped.
func applyChangedFlags(fs *pflag.FlagSet, cfg *train.Config) error {
	cur, err := json.Marshal(cfg)
	if err != nil {
		return err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(cur, &m); err != nil {
		return err
	}
	known := map[string]bool{}
	t := reflect.TypeOf(*cfg)
	for i := 0; i < t.NumField(); i++ {
		known[strings.Split(t.Field(i).Tag.Get("json"), ",")[0]] = true
	}
	fs.Visit(func(f *pflag.Flag) {
		key := strings.ReplaceAll(f.Name, "-", "_")
		if !known[key] {
			return
		}
		v := f.Value.String()
		if f.Value.Type() == "string" {
			q, _ := json.Marshal(v)
			v = string(q)
		}
		m[key] = json.RawMessage(v)
	})
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, cfg)
}

// evaluateAndReport measures a run on its test split and writes eval.json
// and report.html, printing the headline figures.
func evaluateAndReport(cmd *cobra.Command, dir string, o eval.Options) error {
	out, err := eval.Run(dir, o)
	if err != nil {
		return err
	}
	if err := eval.WriteReport(dir, out, o); err != nil {
		return err
	}
	fmt.Fprintf(cmd.OutOrStdout(), "test: %s\nreport: %s/%s\n", eval.Summary(out.Eval.Result), dir, train.ReportFile)
	return nil
}
