package main

import (
	"fmt"
	"sort"

	"github.com/spf13/cobra"

	"github.com/deepscope/deepscope/data"
	"github.com/deepscope/deepscope/shift"
)

func init() { dataCommands = append(dataCommands, newDataShiftCmd) }

func newDataShiftCmd() *cobra.Command {
	var (
		dataPath, out, shifts string
		cfg                   shift.Config
	)
	c := &cobra.Command{
		Use:   "shift --data PATH --out DIR --shifts site[,rescale:2,...]",
		Short: "Write simulated lab-shifted copies of a split (rescaled, re-stained, re-lit) to test robustness",
		Long: `shift makes SIMULATED shifted copies of a dataset's split (test by default) and a manifest
DIR/manifest.csv whose "site" column names each image's group, so that

  deepscope eval  --model RUN --data DIR/manifest.csv
  deepscope audit --model RUN --data DIR/manifest.csv --group-by site

show what each shift costs a model. Shifts (fixed, so a name rebuilds the same set):
  rescale:F  the cell F times as large in the frame (2: zoomed in, 0.6: zoomed out)
  restain    more haematoxylin, less eosin
  relight    a cool, bluish-grey background
  site       restain and relight together: a second site's stain and light

With --fraction 1 (the default) every image appears unshifted (group "original") and
once per shift. With --fraction F in (0, 1) a share F of each class is shifted (split
evenly among the shifts) and the rest kept, each image once: a simulated second site.
Copies are listed in the test split; with --split all every image is copied and keeps
its split, which makes a simulated two-site training set (for train --balance-by site).
The images come from one lab; the copies simulate others and say nothing about real
accuracy elsewhere (DIR/README.txt says so too).`,
		Example: `  deepscope data shift --data ../shared/data/pbc --out pbc-shifted --shifts rescale:2,rescale:0.6,restain,relight,site
  deepscope data shift --data ../shared/data/pbc --out pbc-site2 --shifts site --fraction 0.5
  deepscope data shift --data ../shared/data/pbc --out pbc-2site --shifts site --fraction 0.25 --split all`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if dataPath == "" || out == "" {
				return fmt.Errorf("data shift: --data and --out are required")
			}
			var err error
			if cfg.Shifts, err = shift.ParseList(shifts); err != nil {
				return err
			}
			ds, err := data.Open(dataPath)
			if err != nil {
				return err
			}
			sum, err := shift.Write(ds, out, cfg)
			if err != nil {
				return err
			}
			groups := make([]string, 0, len(sum.Groups))
			for g := range sum.Groups {
				groups = append(groups, g)
			}
			sort.Strings(groups)
			for _, g := range groups {
				fmt.Fprintf(cmd.OutOrStdout(), "%-14s %d images\n", g, sum.Groups[g])
			}
			fmt.Fprintf(cmd.OutOrStdout(), "manifest: %s (simulated shifts; see %s)\n", sum.Manifest, shift.ReadmeName)
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&dataPath, "data", "", "dataset: class folders, a CSV manifest or a folder holding split.csv (required)")
	f.StringVar(&out, "out", "", "output directory (required)")
	f.StringVar(&shifts, "shifts", "site", "comma-separated shifts: "+shift.Names)
	f.StringVar(&cfg.Split, "split", "test", `split to copy ("all": every image, each keeping its split)`)
	f.Float64Var(&cfg.Fraction, "fraction", 1, "share of each class to shift; 1: every image unshifted and once per shift")
	f.StringVar(&cfg.Column, "column", "site", "manifest column naming each image's group")
	f.StringVar(&cfg.Format, "format", "png", "image format: png or jpg")
	f.Uint64Var(&cfg.Seed, "seed", 1, "seed for choosing the shifted images (with --fraction below 1)")
	f.IntVar(&cfg.Workers, "workers", 0, "goroutines (0: one per core)")
	return c
}
