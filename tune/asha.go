package tune

import (
	"math"
	"sort"
)

// ASHA holds the settings of asynchronous successive halving (Li et al.,
// "A System for Massively Parallel Hyperparameter Tuning", 2020), the rule
// of Optuna's SuccessiveHalvingPruner. A trial is judged at rungs of
// MinEpochs·Eta^k epochs; one among the best 1/Eta of the trials that
// reached its rung so far goes on, any other pauses. A paused trial is
// promoted later, when enough worse trials reach its rung to put it among
// the best 1/Eta; whatever is still paused when the search runs out of
// trials is pruned.
//
// As in Optuna, the best trial of a rung is always among the best 1/Eta,
// even when fewer than Eta trials reached it, so the first trial of a
// search is never paused: a search with few trials still completes some.
type ASHA struct {
	MinEpochs int `json:"min_epochs"` // epochs of the first rung; 1 when zero
	Eta       int `json:"eta"`        // reduction factor; 3 when zero
}

func (a ASHA) withDefaults() ASHA {
	if a.MinEpochs < 1 {
		a.MinEpochs = 1
	}
	if a.Eta < 2 {
		a.Eta = 3
	}
	return a
}

// Rungs returns the epochs at which a trial of maxEpochs epochs is judged:
// MinEpochs·Eta^k for every k that gives fewer than maxEpochs. The trial
// completes at maxEpochs, which is no rung.
func (a ASHA) Rungs(maxEpochs int) []int {
	a = a.withDefaults()
	var out []int
	for r := a.MinEpochs; r < maxEpochs; r *= a.Eta {
		out = append(out, r)
	}
	return out
}

// Promotable reports whether value is among the best max(1, ⌊n/eta⌋) of
// the n values reached at a rung; values includes value itself, and
// higher is better (negate a loss).
func Promotable(value float64, values []float64, eta int) bool {
	if math.IsNaN(value) || len(values) == 0 {
		return false
	}
	k := max(1, len(values)/max(eta, 1))
	s := append([]float64(nil), values...)
	sort.Sort(sort.Reverse(sort.Float64Slice(s)))
	return value >= s[min(k, len(s))-1]
}

// RungResult is a trial's score at one rung.
type RungResult struct {
	Trial  int     // trial id
	Value  float64 // the search metric at the rung's epoch; higher is better
	Paused bool    // the trial is paused at this rung, waiting for promotion
}

// NextPromotion chooses the paused trial to continue next: among those
// Promotable within their rung, the one at the highest rung, and within a
// rung the best. rungs[k] lists every trial that reached rung k, paused or
// not. ok is false when no paused trial is promotable.
func NextPromotion(rungs [][]RungResult, eta int) (trial int, ok bool) {
	for k := len(rungs) - 1; k >= 0; k-- {
		values := make([]float64, len(rungs[k]))
		for i, r := range rungs[k] {
			values[i] = r.Value
		}
		best, found := 0, false
		var bestValue float64
		for _, r := range rungs[k] {
			if r.Paused && Promotable(r.Value, values, eta) && (!found || r.Value > bestValue) {
				best, bestValue, found = r.Trial, r.Value, true
			}
		}
		if found {
			return best, true
		}
	}
	return 0, false
}
