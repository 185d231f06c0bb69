package audit

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"slices"
)

// Limits are the largest gaps and smallest ratios an audit accepts, per
// criterion. A criterion with neither is measured but not checked. In JSON:
//
//	{"max_gap": {"equal_opportunity": 0.05, "accuracy": 0.03},
//	 "min_ratio": {"demographic_parity": 0.8}}
type Limits struct {
	MaxGap   map[Criterion]float64 `json:"max_gap,omitempty"`
	MinRatio map[Criterion]float64 `json:"min_ratio,omitempty"`
}

// MaxGapAll returns limits that accept a gap of at most g on every
// criterion.
func MaxGapAll(g float64) Limits {
	l := Limits{MaxGap: map[Criterion]float64{}}
	for _, c := range Criteria {
		l.MaxGap[c] = g
	}
	return l
}

// Validate reports an unknown criterion or a limit outside [0, 1].
func (l Limits) Validate() error {
	check := func(kind string, m map[Criterion]float64) error {
		for c, v := range m {
			if !slices.Contains(Criteria, c) {
				return fmt.Errorf("audit: %s: unknown criterion %q (known: %v)", kind, c, Criteria)
			}
			if !(v >= 0 && v <= 1) || math.IsNaN(v) {
				return fmt.Errorf("audit: %s of %s is %g: want a value in [0, 1]", kind, c, v)
			}
		}
		return nil
	}
	if err := check("max_gap", l.MaxGap); err != nil {
		return err
	}
	return check("min_ratio", l.MinRatio)
}

// Empty reports whether no limit is set.
func (l Limits) Empty() bool { return len(l.MaxGap) == 0 && len(l.MinRatio) == 0 }

// ReadLimits reads limits from a JSON file (see Limits). Unknown keys and
// criteria are errors, so that a typo does not silently drop a check.
func ReadLimits(path string) (Limits, error) {
	f, err := os.Open(path)
	if err != nil {
		return Limits{}, fmt.Errorf("audit: %w", err)
	}
	defer f.Close()
	var l Limits
	dec := json.NewDecoder(f)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&l); err != nil {
		return Limits{}, fmt.Errorf("audit: %s: %w", path, err)
	}
	if err := l.Validate(); err != nil {
		return Limits{}, fmt.Errorf("%w (in %s)", err, path)
	}
	return l, nil
}
