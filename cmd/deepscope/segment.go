package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/deepscope/deepscope/segment"
)

func init() { commands = append(commands, newSegmentCmd) }

func newSegmentCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "segment",
		Short: "Find nuclei or cells as instances: train, predict (labels, overlays, measurements), evaluate",
		Long: `segment trains a U-Net that labels each pixel background, interior or boundary,
turns its output into one label per object (interiors as seeds, grown into the
foreground along the boundary probability), and scores objects with the 2018 Data
Science Bowl's metric. With --head star the U-Net instead gives each pixel an object
probability and its distances to the object's edge along --rays directions, and
objects are the polygons of the most confident pixels (StarDist's star-convex
polygons, with non-maximum suppression).

Datasets are DIR/images/NAME.png with DIR/labels/NAME.png (16-bit instance labels,
0 = background), or the Data Science Bowl's DIR/ID/images/ID.png with
DIR/ID/masks/*.png (one binary mask per object).`,
	}
	c.AddCommand(newSegmentTrainCmd(), newSegmentTuneCmd(), newSegmentPredictCmd(), newSegmentEvalCmd())
	return c
}

func newSegmentTrainCmd() *cobra.Command {
	var (
		cfg              segment.Config
		out, device      string
		resume, noReport bool
	)
	d := segment.Defaults()
	c := &cobra.Command{
		Use:   "train --data DIR --out RUN [flags]",
		Short: "Train a segmentation model; writes RUN/ with checkpoints, metrics, eval.json and report.html",
		Long: `train fits a U-Net on random crops (with flips and quarter turns) of the images in
--data, keeping a seeded fraction (--holdout) of the images out for validation; the
split is recorded in RUN/run.json. Checkpoints are written atomically; --resume
continues a stopped run exactly where it stopped. At the end the probability
thresholds that make objects, the smallest object kept and the least confidence
an object needs are tuned on the hold-out images for the last weights (see "segment tune"; --no-tune keeps the
defaults), and the last weights are evaluated on the hold-out images (eval.json,
report.html, with the errors sorted by kind). best.safetensors keeps the weights of
the best validation, at the default thresholds, for comparison.`,
		Example: `  deepscope segment train --data ../shared/data/dsb2018 --out runs/dsb --epochs 50
  deepscope segment train --resume --out runs/dsb
  deepscope segment train --device cuda --data ../shared/data/dsb2018 --out runs/dsb-gpu --epochs 95`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return fmt.Errorf("segment train: --out RUN is required")
			}
			if !resume && cfg.Data == "" {
				return fmt.Errorf("segment train: --data DIR is required")
			}
			cfg.Tile.Tile, cfg.Tile.Overlap = tileFlags(cmd.Flags())
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			sum, err := segment.Train(ctx, cfg, segment.Options{Out: out, Resume: resume, Log: cmd.ErrOrStderr(), Version: version, Device: device})
			if err == segment.ErrInterrupted {
				fmt.Fprintf(cmd.ErrOrStderr(), "stopped; continue with: deepscope segment train --resume --out %s\n", out)
				return err
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "trained %d epochs in %.0fs; best hold-out score %.4f at epoch %d\n", sum.Epochs, sum.Seconds, sum.Best, sum.BestEpoch)
			if noReport {
				return nil
			}
			return segmentEvaluate(cmd, out, "", false, nil, 8)
		},
	}
	f := c.Flags()
	f.StringVar(&cfg.Data, "data", "", "dataset folder (images/ and labels/, or ID/images and ID/masks)")
	f.StringVar(&out, "out", "", "run directory (required)")
	f.IntVar(&cfg.Epochs, "epochs", d.Epochs, "epochs: one random crop of each training image per epoch")
	f.IntVar(&cfg.Size, "size", d.Size, "side of the training crops (a multiple of 2^depth)")
	f.IntVar(&cfg.Base, "base", d.Base, "U-Net channels at the top level")
	f.IntVar(&cfg.Depth, "depth", d.Depth, "U-Net levels")
	f.IntVar(&cfg.Batch, "batch", d.Batch, "crops per step")
	f.Float64Var(&cfg.LR, "lr", d.LR, "peak learning rate (AdamW; warm-up, then cosine)")
	f.Float64Var(&cfg.WeightDecay, "weight-decay", d.WeightDecay, "AdamW weight decay")
	f.Float64Var(&cfg.BoundaryWeight, "boundary-weight", d.BoundaryWeight, "weight of boundary pixels in the loss (classes head)")
	f.Float64Var(&cfg.ContactWeight, "contact-weight", d.ContactWeight, "extra loss weight where objects touch or nearly touch (U-Net's weight map, sigma 5 px; classes head; 0: off)")
	f.StringVar(&cfg.Head, "head", d.Head, `what the U-Net predicts: "classes" (background/interior/boundary, seeded growth), "hv" (the classes plus HoVer-Net's distance maps, which part touching objects) or "star" (star-convex polygons, as StarDist)`)
	f.IntVar(&cfg.Instance.Rays, "rays", 0, "directions of the star head's polygons, a multiple of 4 (0: the default, 32)")
	f.BoolVar(&cfg.Colour, "colour", false, "feed the network the three colour channels, not grey (stained brightfield, H&E)")
	f.Float64Var(&cfg.Zoom, "zoom", 0, "zoom each crop by a random factor in [1/(1+z), 1+z] (0: none)")
	f.Float64Var(&cfg.ObjectCrops, "object-crops", 0, "fraction of training crops placed on a random object (0: all anywhere)")
	f.Float64Var(&cfg.Balance, "balance", 0, "even out grey/colour and fluorescence/brightfield images in each epoch's crops: each kind's share goes as n^(1-b) for its n images (0: off, 1: equal shares)")
	f.Float64Var(&cfg.Holdout, "holdout", d.Holdout, "fraction of images held out for validation (seeded)")
	f.Uint64Var(&cfg.Seed, "seed", d.Seed, "random seed: hold-out, weights, crops")
	f.Uint64Var(&cfg.HoldoutSeed, "holdout-seed", 0, "draw the hold-out with this seed instead of --seed, so that runs of several seeds share one hold-out (0: --seed)")
	f.IntVar(&cfg.ValEvery, "val-every", d.ValEvery, "epochs between hold-out validations (the last is always validated)")
	f.IntVar(&cfg.CheckpointEvery, "checkpoint-every", d.CheckpointEvery, "steps between mid-epoch checkpoints (0: epoch ends only)")
	f.BoolVar(&cfg.TTA, "tta", false, "average over four quarter turns at inference")
	f.BoolVar(&cfg.NoTune, "no-tune", false, "keep the default thresholds and smallest object instead of tuning them on the hold-out")
	f.IntVar(&cfg.Instance.MinArea, "min-area", 0, "drop objects of fewer pixels (0: the default, 15)")
	f.Float32Var(&cfg.Instance.MinConfidence, "min-confidence", 0, "drop objects whose mean foreground probability is below this (classes and hv heads; 0: keep all)")
	f.IntVar(&cfg.Instance.MinSeed, "min-seed", 0, "drop interior seeds of fewer pixels (0: the default, 4)")
	addTileFlags(f)
	f.BoolVar(&resume, "resume", false, "continue the run in --out from its checkpoint")
	f.BoolVar(&noReport, "no-report", false, "skip the hold-out evaluation and report.html")
	f.StringVar(&device, "device", segment.DeviceCPU, "where the training steps run: cpu, or cuda for the first NVIDIA GPU (classes head; validation and tuning stay on the CPU)")
	return c
}

// addInstanceFlags adds --fg-prob, --seed-prob, --nms, --energy,
// --min-confidence, --min-area and --min-seed, which override a run's.
func addInstanceFlags(f *pflag.FlagSet) {
	f.Float32("fg-prob", 0, "a pixel is foreground above this probability (default: the run's)")
	f.Float32("seed-prob", 0, "a pixel seeds an object above this interior probability (default: the run's)")
	f.Float32("min-confidence", 0, "drop objects whose mean foreground probability is below this, 0 for none (default: the run's)")
	f.Float32("nms", 0, "star head: drop a polygon whose intersection with a more probable one exceeds this fraction of the smaller (default: the run's)")
	f.Float32("energy", 0, "hv head: a pixel seeds an object only where the distance maps fall by less than this per pixel (default: the run's)")
	f.Int("min-area", 0, "drop objects of fewer pixels (default: the run's)")
	f.Int("min-seed", 0, "drop interior seeds of fewer pixels (default: the run's)")
}

// addTileFlags adds --tile and --overlap.
func addTileFlags(f *pflag.FlagSet) {
	f.Int("tile", 0, "inference window side in pixels (0: the run's, by default 256)")
	f.Int("overlap", 0, "overlap of inference windows in pixels (0: the run's, by default 64)")
}

func tileFlags(f *pflag.FlagSet) (tile, overlap int) {
	tile, _ = f.GetInt("tile")
	overlap, _ = f.GetInt("overlap")
	return tile, overlap
}

// applyInference overrides a loaded model's inference settings with the
// flags given.
func applyInference(f *pflag.FlagSet, m *segment.Model) error {
	if tile, overlap := tileFlags(f); tile > 0 || overlap > 0 {
		if tile > 0 {
			m.Tile.Tile = tile
		}
		if overlap > 0 {
			m.Tile.Overlap = overlap
		}
		if err := m.Tile.Validate(); err != nil {
			return err
		}
	}
	if f.Changed("tta") {
		m.TTA, _ = f.GetBool("tta")
	}
	for _, t := range []struct {
		name string
		v    *float32
	}{{"fg-prob", &m.Instance.Foreground}, {"seed-prob", &m.Instance.Seed}, {"nms", &m.Instance.NMS}} {
		if f.Changed(t.name) {
			if star := m.Instance.Rays > 0; (t.name == "seed-prob" && star) || (t.name == "nms" && !star) {
				head := map[bool]string{true: "star-convex", false: "three-class"}[star]
				if m.Instance.HV {
					head = "hv"
				}
				return fmt.Errorf("--%s does not apply to this run's %s head", t.name, head)
			}
			v, _ := f.GetFloat32(t.name)
			if !(v > 0 && v < 1) {
				return fmt.Errorf("--%s %g: want a value in (0, 1)", t.name, v)
			}
			*t.v = v
		}
	}
	if f.Changed("min-confidence") {
		v, _ := f.GetFloat32("min-confidence")
		switch {
		case m.Instance.Rays > 0:
			return fmt.Errorf("--min-confidence does not apply to this run's star-convex head")
		case !(v >= 0 && v < 1):
			return fmt.Errorf("--min-confidence %g: want a value in [0, 1)", v)
		}
		m.Instance.MinConfidence = v
	}
	if f.Changed("energy") {
		v, _ := f.GetFloat32("energy")
		switch {
		case !m.Instance.HV:
			return fmt.Errorf("--energy applies to the hv head only, not to this run's")
		case !(v > 0 && v <= 1):
			return fmt.Errorf("--energy %g: want a value in (0, 1]", v)
		}
		m.Instance.Energy = v
	}
	if f.Changed("min-area") {
		m.Instance.MinArea, _ = f.GetInt("min-area")
	}
	if f.Changed("min-seed") {
		m.Instance.MinSeed, _ = f.GetInt("min-seed")
	}
	m.Instance = m.Instance.WithDefaults()
	return nil
}

func newSegmentTuneCmd() *cobra.Command {
	var model string
	c := &cobra.Command{
		Use:   "tune --model RUN",
		Short: "Tune a segmentation run's probability thresholds on its hold-out images",
		Long: `tune chooses the two thresholds that turn the network's probabilities into objects
(foreground: a pixel belongs to some object; seed: a pixel is an object's interior;
for a star head, the object probability that proposes a polygon and the overlap
above which a less probable polygon is suppressed), the smallest object kept and,
for the three-class and hv heads, the least mean foreground probability an object needs
(and for the hv head how steeply the distance maps may fall under a seed),
for a high Data Science Bowl score on the run's hold-out images, as StarDist's
optimize_thresholds does: one knob at a time, at the middle of the broadest peak
of the score over its grid rather than its highest point, which on a few dozen
images is partly noise. It records them in RUN/run.json, where predict and eval
find them. It also prints the score with thresholds chosen on the other half of
the images, the figure to trust. A finished "segment train" does this already
unless given --no-tune. --tta tunes for four-rotation test-time augmentation and
makes it the run's setting, which eval and predict then follow.`,
		Example: `  deepscope segment tune --model runs/dsb
  deepscope segment tune --model runs/dsb --tta`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var tta *bool
			if cmd.Flags().Changed("tta") {
				tta = new(bool)
				*tta, _ = cmd.Flags().GetBool("tta")
			}
			_, err := segment.TuneRun(model, tta, cmd.ErrOrStderr())
			return err
		},
	}
	c.Flags().StringVar(&model, "model", "", "run directory (required)")
	c.Flags().Bool("tta", false, "tune with four-rotation test-time augmentation and keep it as the run's setting (--tta=false turns it off; default: the run's)")
	c.MarkFlagRequired("model")
	return c
}

func newSegmentPredictCmd() *cobra.Command {
	var model, out string
	c := &cobra.Command{
		Use:   "predict --model RUN --out DIR IMAGE|DIR...",
		Short: "Segment images: 16-bit label PNGs, overlays, per-object measurements and counts",
		Long: `predict segments each image (folders are searched, not recursively, for PNG, JPEG,
TIFF and BMP files) in overlapping windows, so images of any size fit in memory, and
writes under --out:

  labels/NAME.png    16-bit instance labels (0 = background), NAME as the image's
  overlays/NAME.png  the image with each object's outline
  objects.csv        image,id,area,perimeter,centroid_x,centroid_y,eccentricity,mean_intensity
  counts.csv         image,count

and prints each image's object count. An unreadable image is reported on stderr
and the command exits with status 1 at the end.`,
		Example: `  deepscope segment predict --model runs/dsb --out seg/ plate1/`,
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return fmt.Errorf("segment predict: --out DIR is required")
			}
			m, _, err := segment.Load(model)
			if err != nil {
				return err
			}
			if err := applyInference(cmd.Flags(), m); err != nil {
				return err
			}
			paths, err := segment.ListImages(args)
			if err != nil {
				return err
			}
			failed := 0
			err = segment.PredictFiles(m, paths, out, func(p string, n int, err error) {
				if err != nil {
					fmt.Fprintln(cmd.ErrOrStderr(), err)
					failed++
					return
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s\t%d\n", p, n)
			})
			if err != nil {
				return err
			}
			if failed > 0 {
				return fmt.Errorf("segment predict: %d of %d images could not be read", failed, len(paths))
			}
			return nil
		},
	}
	c.Flags().StringVar(&model, "model", "", "run directory (required)")
	c.Flags().StringVar(&out, "out", "", "output folder (required)")
	c.Flags().Bool("tta", false, "average over four quarter turns (default: as the run was configured)")
	addInstanceFlags(c.Flags())
	addTileFlags(c.Flags())
	c.MarkFlagRequired("model")
	return c
}

func newSegmentEvalCmd() *cobra.Command {
	var (
		model, dataDir string
		all            bool
		worst          int
	)
	c := &cobra.Command{
		Use:   "eval --model RUN [--data DIR] [flags]",
		Short: "Score a segmentation run: Data Science Bowl metric, AP at IoU 0.5, Dice, count error, errors by kind; report.html",
		Long: `eval segments labelled images with a run's model (the weights its thresholds were tuned
for) and scores them: the 2018
Data Science Bowl's metric (per image, the mean over IoU thresholds 0.50, 0.55, ...,
0.95 of TP/(TP+FP+FN); then the mean over images), AP at IoU 0.5, foreground Dice
and the error in the object count, and it sorts the errors at IoU 0.5 by kind: true
objects missed, merged with a neighbour, split or loosely outlined, and spurious
predictions. Without --data, or with the run's own dataset, it
uses the run's hold-out images (--all for every image). It writes RUN/eval.json and
RUN/report.html, which shows the worst images with true and predicted outlines.`,
		Example: `  deepscope segment eval --model runs/dsb
  deepscope segment eval --model runs/dsb --data other_lab/ --tta`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return segmentEvaluate(cmd, model, dataDir, all, cmd.Flags(), worst)
		},
	}
	c.Flags().StringVar(&model, "model", "", "run directory (required)")
	c.Flags().StringVar(&dataDir, "data", "", "labelled dataset (default: the run's)")
	c.Flags().BoolVar(&all, "all", false, "every image of the dataset, not only the run's hold-out")
	c.Flags().IntVar(&worst, "worst", 8, "images to show in the report, worst first")
	c.Flags().Bool("tta", false, "average over four quarter turns (default: as the run was configured)")
	addInstanceFlags(c.Flags())
	addTileFlags(c.Flags())
	c.MarkFlagRequired("model")
	return c
}

// segmentEvaluate scores a run on a dataset and writes eval.json and
// report.html into the run directory.
func segmentEvaluate(cmd *cobra.Command, dir, dataDir string, all bool, flags *pflag.FlagSet, worst int) error {
	m, ri, err := segment.Load(dir)
	if err != nil {
		return err
	}
	if flags != nil {
		if err := applyInference(flags, m); err != nil {
			return err
		}
	}
	if dataDir == "" {
		dataDir = ri.Config.Data
	}
	ds, err := segment.Open(dataDir)
	if err != nil {
		return err
	}
	samples, split, err := segment.EvalSplit(ds, ri, all)
	if err != nil {
		return err
	}
	var log io.Writer = cmd.ErrOrStderr()
	res, err := segment.Evaluate(m, samples, worst, log)
	if err != nil {
		return err
	}
	res.Data, res.Split = dataDir, split
	if err := segment.WriteEval(dir, res); err != nil {
		return err
	}
	if err := segment.WriteReport(dir, ri, res); err != nil {
		return err
	}
	s := res.Summary
	fmt.Fprintf(cmd.OutOrStdout(), "%s: %d images (%s): score %.4f  AP50 %.4f  Dice %.4f  count error %.2f (%.1f%%)  in %.0fs\nerrors at IoU 0.5: %v (of %d true and %d predicted objects)\nreport: %s\n",
		dataDir, s.Images, split, s.Score, s.AP50, s.Dice, s.CountMAE, 100*s.CountMRE, res.Seconds, s.Errors, s.TrueObjects, s.PredObjects, filepath.Join(dir, segment.ReportFile))
	return nil
}
