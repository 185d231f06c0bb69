package tune

import (
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/deepscope/deepscope/train"
)

// Files of a search directory.
const (
	SearchFile      = "search.json"      // the search's options and the wall time spent
	TrialsFile      = "trials.jsonl"     // one Trial per line, a line per change of state
	BestFile        = "best.json"        // the best complete trial's train.Config
	LeaderboardFile = "leaderboard.html" // the leaderboard page
)

// Status says where a trial stands.
type Status string

// The states of a trial. A running trial that the search process loses
// (killed, cancelled) keeps its run directory and checkpoint; a resumed
// search continues it from there.
const (
	Running   Status = "running"   // training now
	Paused    Status = "paused"    // stopped at an ASHA rung, checkpoint kept, may be promoted
	Complete  Status = "complete"  // trained all its epochs (or stopped early by its patience)
	Pruned    Status = "pruned"    // paused and never promoted before the search ended
	Failed    Status = "failed"    // train refused the config or the loss diverged; see Error
	Cancelled Status = "cancelled" // stopped by the budget or the user; resumable
)

// Trial is one configuration of a search and how far it got: a line of
// trials.jsonl. The run directory Dir (under the search directory) is an
// ordinary train run directory.
type Trial struct {
	ID        int       `json:"id"`
	Dir       string    `json:"dir"`
	Params    Params    `json:"params"`
	Status    Status    `json:"status"`
	Epochs    int       `json:"epochs"`     // epochs done
	MaxEpochs int       `json:"max_epochs"` // epochs its config asks for
	Curve     []float64 `json:"curve"`      // the search metric after each epoch
	Metric    float64   `json:"metric"`     // the curve's last value (meaningless while Epochs is 0)
	Threads   int       `json:"threads"`    // kernel threads it trained with
	Seconds   float64   `json:"seconds"`    // training wall time so far, as train measures it
	Error     string    `json:"error,omitempty"`
	Time      time.Time `json:"time"` // when this state was entered
}

// Metrics a search can rank trials by: validation figures of train.EpochLog.
var Metrics = []string{"accuracy", "auc", "loss"}

// metricOf returns the search metric of an epoch, as logged.
func metricOf(metric string, l train.EpochLog) float64 {
	switch metric {
	case "auc":
		return l.ValAUC
	case "loss":
		return l.ValLoss
	}
	return l.ValAccuracy
}

// score turns a metric value into one where higher is better.
func score(metric string, v float64) float64 {
	if math.IsNaN(v) {
		return math.Inf(-1)
	}
	if metric == "loss" {
		return -v
	}
	return v
}

// Leaderboard returns the trials best first: complete trials by metric,
// then the others (paused, pruned, cancelled, failed) by the metric they
// reached, which is measured after fewer epochs and so not comparable,
// then trials that finished no epoch. Ties keep the order of the ids.
func Leaderboard(trials []Trial, metric string) []Trial {
	out := append([]Trial(nil), trials...)
	tier := func(t Trial) int {
		switch {
		case t.Epochs == 0:
			return 2
		case t.Status == Complete:
			return 0
		}
		return 1
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if tier(a) != tier(b) {
			return tier(a) < tier(b)
		}
		if sa, sb := score(metric, a.Metric), score(metric, b.Metric); sa != sb && tier(a) < 2 {
			return sa > sb
		}
		return a.ID < b.ID
	})
	return out
}

// Best returns the best complete trial, or, when none is complete, the
// best trial that finished an epoch; ok is false when there is none.
func Best(trials []Trial, metric string) (best Trial, ok bool) {
	lb := Leaderboard(trials, metric)
	if len(lb) == 0 || lb[0].Epochs == 0 {
		return Trial{}, false
	}
	return lb[0], true
}

// ParamString formats params as name=value pairs in name order, numbers
// with four significant digits.
func ParamString(sp Space, p Params) string {
	s := ""
	for i, q := range sp {
		if i > 0 {
			s += " "
		}
		s += q.Name + "=" + formatValue(p[q.Name])
	}
	return s
}

func formatValue(v any) string {
	if f, ok := v.(float64); ok {
		return fmt.Sprintf("%.4g", f)
	}
	return fmt.Sprint(v)
}
