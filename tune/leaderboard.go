package tune

import (
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"text/tabwriter"

	"github.com/deepscope/deepscope/data"
	"github.com/deepscope/deepscope/train"
)

// WriteTable prints the leaderboard as a text table, best first: rank,
// trial, metric, epochs, status and the params.
func WriteTable(w io.Writer, sp Space, metric string, trials []Trial) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "rank\ttrial\t%s\tepochs\tstatus\tparams\n", metric)
	for i, t := range Leaderboard(trials, metric) {
		m := "-"
		if t.Epochs > 0 {
			m = strconv.FormatFloat(t.Metric, 'f', 4, 64)
		}
		fmt.Fprintf(tw, "%d\t%d\t%s\t%d/%d\t%s\t%s\n", i+1, t.ID, m, t.Epochs, t.MaxEpochs, t.Status, ParamString(sp, t.Params))
	}
	return tw.Flush()
}

// WriteOutputs writes the leaderboard page and, when a trial finished an
// epoch, best.json: the best trial's train.Config (see Best), which
// `deepscope train --config best.json` trains again in full.
func WriteOutputs(dir string, opt Options, trials []Trial) error {
	page, err := leaderboardPage(opt, trials)
	if err != nil {
		return err
	}
	if err := data.WriteFileAtomic(filepath.Join(dir, LeaderboardFile), page); err != nil {
		return fmt.Errorf("tune: %w", err)
	}
	best, ok := Best(trials, opt.Metric)
	if !ok {
		return nil
	}
	cfg, err := BestConfig(opt.Base, best)
	if err != nil {
		return err
	}
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return fmt.Errorf("tune: %w", err)
	}
	if err := data.WriteFileAtomic(filepath.Join(dir, BestFile), append(b, '\n')); err != nil {
		return fmt.Errorf("tune: %w", err)
	}
	return nil
}

// BestConfig returns the train.Config of trial t of a search from base:
// base with t's params, every epoch of it (the trial may have been
// stopped at a rung; its config was always the full one).
func BestConfig(base train.Config, t Trial) (train.Config, error) {
	return Apply(base, t.Params)
}
