package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/deepscope/deepscope/data"
)

func init() { dataCommands = append(dataCommands, newDataSplitCmd) }

// dataSplitOptions are the flags of "deepscope data split".
type dataSplitOptions struct {
	cfg   data.SplitConfig
	out   string
	force bool
}

func newDataSplitCmd() *cobra.Command {
	var opt dataSplitOptions
	c := &cobra.Command{
		Use:   "split PATH",
		Short: "Assign images to train, val and test and write the manifest",
		Long: `Split a dataset (ImageFolder directory or CSV manifest) into train, val and
test, and write a manifest (path,label,split plus the metadata columns).

A manifest's split column is kept when every row has one (with --group-by it is
checked that no group crosses splits); --resplit draws a new split. A new split
is stratified: each class is divided in the given fractions, from a stream that
depends only on --seed. With --group-by COLUMN (patient, slide, ...), whole
groups are assigned so that no group is on two sides.`,
		Example: `  deepscope data split cells --val 0.1 --test 0.2 --seed 1
  deepscope data split slides/manifest.csv --group-by patient --resplit --out slides/split.csv`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDataSplit(args[0], opt, cmd.OutOrStdout())
		},
	}
	f := c.Flags()
	f.Float64Var(&opt.cfg.Val, "val", 0.1, "fraction of images for validation")
	f.Float64Var(&opt.cfg.Test, "test", 0.2, "fraction of images for the test set")
	f.Uint64Var(&opt.cfg.Seed, "seed", 1, "seed of the split")
	f.StringVar(&opt.cfg.GroupBy, "group-by", "", "metadata column whose values must not cross splits (patient, slide, ...)")
	f.BoolVar(&opt.cfg.Resplit, "resplit", false, "draw a new split even where the manifest has one")
	f.StringVar(&opt.out, "out", "", "manifest to write (default: split.csv in the dataset's root)")
	f.BoolVar(&opt.force, "force", false, "replace an existing manifest")
	return c
}

func runDataSplit(path string, opt dataSplitOptions, stdout io.Writer) error {
	ds, err := data.Open(path)
	if err != nil {
		return err
	}
	out := opt.out
	if out == "" {
		out = filepath.Join(ds.Root, "split.csv")
	}
	if _, err := os.Stat(out); err == nil && !opt.force {
		return fmt.Errorf("data split: %s exists; pass --force to replace it or --out to write elsewhere", out)
	}
	s, err := data.Split(ds, opt.cfg)
	if err != nil {
		return err
	}
	if err := data.WriteManifest(out, s); err != nil {
		return err
	}
	writeSplitTable(stdout, s, opt.cfg.GroupBy)
	fmt.Fprintf(stdout, "wrote %s\n", out)
	return nil
}

// writeSplitTable prints images per class and split (and groups per split).
func writeSplitTable(w io.Writer, ds *data.Dataset, groupBy string) {
	splits := ds.Splits()
	subsets := map[string]*data.Dataset{}
	perClass := map[string][]int{}
	for _, s := range splits {
		subsets[s] = ds.Subset(s)
		perClass[s] = subsets[s].ClassCounts()
	}
	fmt.Fprintf(w, "%-24s", "class")
	for _, s := range splits {
		fmt.Fprintf(w, " %8s", s)
	}
	fmt.Fprintln(w)
	for k, name := range ds.Classes {
		fmt.Fprintf(w, "%-24s", name)
		for _, s := range splits {
			fmt.Fprintf(w, " %8d", perClass[s][k])
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "%-24s", "all")
	for _, s := range splits {
		fmt.Fprintf(w, " %8d", subsets[s].Len())
	}
	fmt.Fprintln(w)
	if groupBy != "" {
		fmt.Fprintf(w, "%-24s", groupBy+"s")
		for _, s := range splits {
			seen := map[string]bool{}
			for _, it := range subsets[s].Items {
				seen[it.Meta[groupBy]] = true
			}
			fmt.Fprintf(w, " %8d", len(seen))
		}
		fmt.Fprintln(w)
	}
}
