package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/deepscope/deepscope/data"
)

func init() { dataCommands = append(dataCommands, newDataGetCmd) }

// medmnistURLEnv overrides the MedMNIST download address (tests point it at
// a local server; mirrors work too).
const medmnistURLEnv = "DEEPSCOPE_MEDMNIST_URL"

// medmnistLookup finds a set's description (a variable so that tests can
// give a checksum of their own).
var medmnistLookup = data.MedMNIST

// dataGetOptions are the flags of "deepscope data get".
type dataGetOptions struct {
	size    int
	dir     string
	baseURL string
	list    bool
}

func newDataGetCmd() *cobra.Command {
	var opt dataGetOptions
	c := &cobra.Command{
		Use:   "get NAME",
		Short: "Download a MedMNIST dataset and verify its checksum",
		Long: `Download a MedMNIST v2 / MedMNIST+ archive (NAME.npz for 28 px, NAME_SIZE.npz
otherwise) from the MedMNIST Zenodo record, verify its published MD5 and save it
in --dir. A broken download is resumed from DIR/FILE.part on the next run (and
retried a few times within one run). The base address can be changed with
--base-url or the ` + medmnistURLEnv + ` environment variable.`,
		Example: `  deepscope data get bloodmnist --size 64 --dir data
  deepscope data get --list`,
		Args: func(cmd *cobra.Command, args []string) error {
			if opt.list {
				return cobra.NoArgs(cmd, args)
			}
			return cobra.ExactArgs(1)(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if opt.list {
				listMedMNIST(cmd.OutOrStdout())
				return nil
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt)
			defer stop()
			return runDataGet(ctx, args[0], opt, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := c.Flags()
	f.IntVar(&opt.size, "size", 28, "image size: 28, 64, 128 or 224")
	f.StringVar(&opt.dir, "dir", ".", "directory to save the archive in")
	f.StringVar(&opt.baseURL, "base-url", "", "address of the files (default: $"+medmnistURLEnv+", else "+data.MedMNISTRecord+")")
	f.BoolVar(&opt.list, "list", false, "list the known datasets and exit")
	return c
}

func runDataGet(ctx context.Context, name string, opt dataGetOptions, stdout, stderr io.Writer) error {
	set, err := medmnistLookup(name)
	if err != nil {
		return err
	}
	if !slices.Contains(data.MedMNISTSizes, opt.size) {
		return fmt.Errorf("data get: --size %d: MedMNIST has 28, 64, 128 and 224", opt.size)
	}
	base := opt.baseURL
	if base == "" {
		base = os.Getenv(medmnistURLEnv)
	}
	if err := os.MkdirAll(opt.dir, 0o755); err != nil {
		return fmt.Errorf("data get: %w", err)
	}
	file := set.File(opt.size)
	dest := filepath.Join(opt.dir, file)
	url := data.MedMNISTURL(base, set, opt.size)
	fmt.Fprintf(stderr, "fetching %s\n", url)
	p := &progress{w: stderr, name: file}
	err = data.Download(ctx, url, dest, set.MD5[opt.size], data.DownloadOptions{Progress: p.update})
	p.finish()
	if err != nil {
		if _, e := os.Stat(dest + ".part"); e == nil {
			err = fmt.Errorf("%w\n(the partial file %s.part is kept; run the command again to resume)", err, dest)
		}
		return err
	}
	fmt.Fprintf(stdout, "%s: MD5 %s verified (%s, %d classes, train/val/test %d/%d/%d)\n",
		dest, set.MD5[opt.size], set.Name, len(set.Classes), set.Samples[0], set.Samples[1], set.Samples[2])
	return nil
}

// progress prints a download's progress at most every second.
type progress struct {
	mu    sync.Mutex
	w     io.Writer
	name  string
	last  time.Time
	shown bool
}

func (p *progress) update(done, total int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if time.Since(p.last) < time.Second && done != total {
		return
	}
	p.last = time.Now()
	p.shown = true
	if total > 0 {
		fmt.Fprintf(p.w, "\r%s: %.1f of %.1f MB (%.0f%%)", p.name, float64(done)/1e6, float64(total)/1e6, 100*float64(done)/float64(total))
	} else {
		fmt.Fprintf(p.w, "\r%s: %.1f MB", p.name, float64(done)/1e6)
	}
}

func (p *progress) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.shown {
		fmt.Fprintln(p.w)
	}
}

func listMedMNIST(w io.Writer) {
	fmt.Fprintf(w, "%-16s %-9s %-8s %s\n", "name", "channels", "classes", "train/val/test")
	for _, n := range data.MedMNISTNames() {
		s, _ := data.MedMNIST(n)
		kind := fmt.Sprint(len(s.Classes))
		if s.MultiLabel {
			kind += " (multi-label)"
		}
		fmt.Fprintf(w, "%-16s %-9d %-8s %d/%d/%d\n", n, s.Channels, kind, s.Samples[0], s.Samples[1], s.Samples[2])
	}
	fmt.Fprintf(w, "sizes: %s px; files from %s\n", strings.Trim(fmt.Sprint(data.MedMNISTSizes), "[]"), data.MedMNISTRecord)
}
