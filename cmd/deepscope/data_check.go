package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/deepscope/deepscope/data"
)

func init() { dataCommands = append(dataCommands, newDataCheckCmd) }

// Exit codes of "deepscope data check".
const (
	checkClean    = 0
	checkProblems = 1
	checkUsage    = 2
)

// dataCheckOptions are the flags of "deepscope data check".
type dataCheckOptions struct {
	jsonPath string
	near     int
	workers  int
	maxList  int
}

// newDataCheckCmd builds "deepscope data check". It ends the process itself
// (os.Exit) with 1 when problems are found and 2 on a usage error, because
// the root command maps every error to exit status 1.
func newDataCheckCmd() *cobra.Command {
	var opt dataCheckOptions
	c := &cobra.Command{
		Use:   "check PATH",
		Short: "Find unreadable images, duplicates and leakage between splits",
		Long: `Read and decode every image of a dataset (an ImageFolder directory, a CSV
manifest or a directory holding split.csv, or a MedMNIST .npz) and report:
unreadable, truncated or oversized files; extensions that do not match the
content; exact duplicates (same bytes) and near duplicates (perceptual hashes
within --near bits), flagged when they cross splits (leakage) or labels;
class counts per split and imbalance; image sizes, channels, bit depths and
formats.

Exit status: 0 when the data is clean, 1 when problems were found (or the
data could not be read at all), 2 on a usage error.`,
		Example: `  deepscope data check data/pbc
  deepscope data check data/pbc/split.csv --json check.json
  deepscope data check bloodmnist_64.npz --near -1`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				fmt.Fprintf(cmd.ErrOrStderr(), "deepscope data check: want one PATH, got %d arguments\n\n%s", len(args), cmd.UsageString())
				os.Exit(checkUsage)
			}
			if code := runDataCheck(args[0], opt, cmd.OutOrStdout(), cmd.ErrOrStderr()); code != checkClean {
				os.Exit(code)
			}
			return nil
		},
	}
	c.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		fmt.Fprintf(cmd.ErrOrStderr(), "deepscope data check: %v\n\n%s", err, cmd.UsageString())
		os.Exit(checkUsage)
		return err
	})
	f := c.Flags()
	f.StringVar(&opt.jsonPath, "json", "", `also write the full report as JSON to this file ("-": standard output, instead of the summary)`)
	f.IntVar(&opt.near, "near", data.DefaultNearDistance, "largest Hamming distance (bits of 64) between perceptual hashes of near duplicates; -1: skip the search")
	f.IntVar(&opt.workers, "workers", 0, "goroutines reading and decoding (0: one per core)")
	f.IntVar(&opt.maxList, "max-list", 20, "entries listed per finding in the summary (0: all)")
	return c
}

// runDataCheck checks the dataset at path and returns the exit status.
func runDataCheck(path string, opt dataCheckOptions, stdout, stderr io.Writer) int {
	if opt.near < -1 || opt.near == 0 || opt.near > 32 {
		fmt.Fprintf(stderr, "deepscope data check: --near %d: want 1..32, or -1 to skip the search\n", opt.near)
		return checkUsage
	}
	ds, err := data.Open(path)
	if err != nil {
		fmt.Fprintln(stderr, "deepscope data check:", err)
		return checkProblems
	}
	start := time.Now()
	last := start
	shown := false
	progress := func(done, total int) { // to stderr, every 2 s on long runs
		if now := time.Now(); now.Sub(last) > 2*time.Second {
			last, shown = now, true
			fmt.Fprintf(stderr, "\rchecked %d of %d images", done, total)
		}
	}
	r, err := data.Check(ds, data.CheckConfig{Workers: opt.workers, NearDistance: opt.near, Progress: progress})
	if shown {
		fmt.Fprintln(stderr)
	}
	if err != nil {
		fmt.Fprintln(stderr, "deepscope data check:", err)
		return checkUsage
	}
	if opt.jsonPath != "" {
		js, err := json.MarshalIndent(r, "", "  ")
		if err != nil {
			fmt.Fprintln(stderr, "deepscope data check:", err)
			return checkProblems
		}
		js = append(js, '\n')
		if opt.jsonPath == "-" {
			stdout.Write(js)
		} else if err := data.WriteFileAtomic(opt.jsonPath, js); err != nil {
			fmt.Fprintln(stderr, "deepscope data check:", err)
			return checkProblems
		}
	}
	if opt.jsonPath != "-" {
		r.WriteText(stdout, opt.maxList)
		fmt.Fprintf(stdout, "(%d images checked in %.1fs)\n", r.Images, time.Since(start).Seconds())
	}
	if !r.Clean() {
		return checkProblems
	}
	return checkClean
}
