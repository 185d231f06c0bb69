package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/deepscope/deepscope/data"
	"github.com/deepscope/deepscope/fl"
)

func init() { flCommands = append(flCommands, newFLPartitionCmd) }

func newFLPartitionCmd() *cobra.Command {
	var (
		src, out, how string
		k             int
		seed          uint64
	)
	c := &cobra.Command{
		Use:   "partition --data PATH --clients K --partition iid|dirichlet:ALPHA|site --out DIR",
		Short: "Divide one dataset into site folders for a federated demo",
		Long: `partition divides the images of PATH among K sites as fl simulate does and writes
DIR/client1, DIR/client2, ...: each a folder of symbolic links to the original
images with a split.csv that keeps their train/val/test split, ready for
deepscope fl client --data DIR/clientI. No image is copied.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if src == "" || out == "" {
				return fmt.Errorf("fl partition: --data and --out are required")
			}
			ds, err := data.Open(src)
			if err != nil {
				return err
			}
			if ds, err = data.Split(ds, data.SplitConfig{Val: 0.1, Test: 0.2, Seed: seed}); err != nil {
				return err
			}
			parts, err := fl.Partition(ds, k, how, seed)
			if err != nil {
				return err
			}
			sites, err := fl.WritePartition(out, parts)
			if err != nil {
				return err
			}
			for i, s := range sites {
				fmt.Fprintf(cmd.OutOrStdout(), "%s: %d images, per class %v\n", s, parts[i].Len(), parts[i].ClassCounts())
			}
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&src, "data", "", "dataset to divide (class folders or a manifest)")
	f.IntVar(&k, "clients", 5, "sites (0 with --partition site: one per site)")
	f.StringVar(&how, "partition", "iid", "iid, dirichlet:ALPHA or site")
	f.StringVar(&out, "out", "", "directory for the site folders")
	f.Uint64Var(&seed, "seed", 1, "seed of the partition (and of the split, if the data has none)")
	return c
}
