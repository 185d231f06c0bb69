package fl

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/deepscope/deepscope/tensor"
)

// Aggregation methods. FedProx aggregates as FedAvg does; what makes it
// FedProx is the proximal term Mu in the clients' LocalConfig.
const (
	FedAvg  = "fedavg"  // mean weighted by sample counts (McMahan et al. 2017)
	FedProx = "fedprox" // FedAvg with a proximal term on the clients (Li et al. 2020)
	Median  = "median"  // coordinate-wise median (Yin et al. 2018)
	Trimmed = "trimmed" // coordinate-wise trimmed mean (Yin et al. 2018)
)

// Methods lists the aggregation methods Combine accepts.
var Methods = []string{FedAvg, FedProx, Median, Trimmed}

// Update is one client's contribution to a round: the change it made to
// the global vector (local minus global, in Layout order) and the number of
// training images behind it.
type Update struct {
	Client  string
	Samples int
	Delta   []float32
}

// DPConfig is client-level differential privacy applied by the server
// (DP-FedAvg, McMahan et al. 2018): every update is clipped to L2 norm
// Clip, and Gaussian noise of standard deviation Noise*Clip is added to
// their sum before it is divided by the number of updates. The mean is
// then unweighted: weighting by sample counts would let one client's
// influence exceed the clip bound. Zero Clip means off.
type DPConfig struct {
	Clip  float64 `json:"clip,omitempty"`
	Noise float64 `json:"noise,omitempty"` // noise multiplier z
}

// AggregateConfig says how Combine turns a round's updates into the change
// of the global model.
type AggregateConfig struct {
	Method string `json:"method"` // FedAvg, FedProx, Median or Trimmed; "" means FedAvg
	// Trim is the fraction of the values dropped at each end, per
	// coordinate, by the trimmed mean; 0 means 0.2.
	Trim float64 `json:"trim,omitempty"`
	// NormFactor rejects an update whose L2 norm is more than this many
	// times the median norm of the other updates of its round; 0 means 10,
	// negative turns the check off.
	NormFactor float64  `json:"norm_factor,omitempty"`
	DP         DPConfig `json:"dp,omitzero"`
}

// Validate reports a setting out of range.
func (c AggregateConfig) Validate() error {
	if c.Method != "" && !slices.Contains(Methods, c.Method) {
		return fmt.Errorf("fl: aggregation %q: want one of %s", c.Method, strings.Join(Methods, ", "))
	}
	switch {
	case c.Trim < 0 || c.Trim >= 0.5 || math.IsNaN(c.Trim):
		return fmt.Errorf("fl: trim %g: want a fraction in [0, 0.5)", c.Trim)
	case c.DP.Clip < 0 || c.DP.Noise < 0 || math.IsNaN(c.DP.Clip+c.DP.Noise):
		return fmt.Errorf("fl: DP clip %g and noise %g must be >= 0", c.DP.Clip, c.DP.Noise)
	case c.DP.Noise > 0 && c.DP.Clip == 0:
		return fmt.Errorf("fl: DP noise %g needs a clip norm", c.DP.Noise)
	case c.DP.Clip > 0 && c.Method != "" && c.Method != FedAvg && c.Method != FedProx:
		return fmt.Errorf("fl: client-level DP works with fedavg or fedprox, not %s", c.Method)
	}
	return nil
}

func (c AggregateConfig) trim() float64 {
	if c.Trim == 0 {
		return 0.2
	}
	return c.Trim
}

func (c AggregateConfig) normFactor() float64 {
	if c.NormFactor == 0 {
		return 10
	}
	return c.NormFactor
}

// Rejection is an update left out of a round, and why.
type Rejection struct {
	Client string
	Reason string
}

// Combine aggregates the updates of one round into the change of the
// global vector, after rejecting updates whose norm is far above the
// others' (see AggregateConfig.NormFactor). Every Delta must have the same
// length (the Layout's Total); rng draws the DP noise and may be nil when
// DP is off.
func Combine(updates []Update, cfg AggregateConfig, rng *rand.Rand) ([]float32, []Rejection, error) {
	if err := cfg.Validate(); err != nil {
		return nil, nil, err
	}
	if len(updates) == 0 {
		return nil, nil, fmt.Errorf("fl: no updates to aggregate")
	}
	n := len(updates[0].Delta)
	for _, u := range updates {
		if len(u.Delta) != n {
			panic("fl: Combine of updates of different lengths")
		}
	}
	kept, rejected := rejectOutliers(updates, cfg.normFactor())
	if cfg.DP.Clip > 0 {
		return dpMean(kept, cfg.DP, rng), rejected, nil
	}
	switch cfg.Method {
	case Median:
		return median(kept), rejected, nil
	case Trimmed:
		return trimmedMean(kept, cfg.trim()), rejected, nil
	}
	for _, u := range kept {
		if u.Samples <= 0 {
			return nil, rejected, fmt.Errorf("fl: update from %s has %d samples", u.Client, u.Samples)
		}
	}
	return weightedMean(kept), rejected, nil
}

// L2Norm returns the Euclidean norm of v, summed in float64.
func L2Norm(v []float32) float64 {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	return math.Sqrt(s)
}

// rejectOutliers drops updates whose norm exceeds factor times the median
// norm of the others. factor <= 0 or a single update keeps everything.
func rejectOutliers(us []Update, factor float64) ([]Update, []Rejection) {
	if factor <= 0 || len(us) < 2 {
		return us, nil
	}
	norms := make([]float64, len(us))
	for i, u := range us {
		norms[i] = L2Norm(u.Delta)
	}
	var kept []Update
	var rej []Rejection
	others := make([]float64, 0, len(us)-1)
	for i, u := range us {
		others = others[:0]
		for j, v := range norms {
			if j != i {
				others = append(others, v)
			}
		}
		if m := medianOf(others); norms[i] > factor*m {
			rej = append(rej, Rejection{u.Client, fmt.Sprintf("update norm %.4g is more than %g times the median %.4g of the others", norms[i], factor, m)})
			continue
		}
		kept = append(kept, u)
	}
	return kept, rej
}

// medianOf returns the median of xs, reordering them.
func medianOf(xs []float64) float64 {
	slices.Sort(xs)
	k := len(xs)
	if k%2 == 1 {
		return xs[k/2]
	}
	return (xs[k/2-1] + xs[k/2]) / 2
}

// weightedMean returns Σ nᵢ·Δᵢ / Σ nᵢ, accumulated in float64.
func weightedMean(us []Update) []float32 {
	var total float64
	for _, u := range us {
		total += float64(u.Samples)
	}
	out := make([]float32, len(us[0].Delta))
	tensor.Parallel(len(out), 1<<14, func(lo, hi int) {
		acc := make([]float64, hi-lo)
		for _, u := range us {
			w := float64(u.Samples) / total
			for i, v := range u.Delta[lo:hi] {
				acc[i] += w * float64(v)
			}
		}
		for i, a := range acc {
			out[lo+i] = float32(a)
		}
	})
	return out
}

// coordinatewise calls fn with the values of every update at each
// coordinate (in a scratch slice fn may reorder) and stores its result.
func coordinatewise(us []Update, fn func(col []float32) float64) []float32 {
	out := make([]float32, len(us[0].Delta))
	tensor.Parallel(len(out), 1<<12, func(lo, hi int) {
		col := make([]float32, len(us))
		for i := lo; i < hi; i++ {
			for k, u := range us {
				col[k] = u.Delta[i]
			}
			out[i] = float32(fn(col))
		}
	})
	return out
}

// median returns the coordinate-wise median of the updates (the mean of the
// two middle values when their number is even), ignoring sample counts.
func median(us []Update) []float32 {
	return coordinatewise(us, func(col []float32) float64 {
		slices.Sort(col)
		k := len(col)
		if k%2 == 1 {
			return float64(col[k/2])
		}
		return (float64(col[k/2-1]) + float64(col[k/2])) / 2
	})
}

// trimmedMean returns, per coordinate, the mean of the values left after
// dropping the floor(trim·n) largest and as many smallest, ignoring sample
// counts. At least one value is always kept.
func trimmedMean(us []Update, trim float64) []float32 {
	k := int(math.Floor(trim * float64(len(us))))
	k = min(k, (len(us)-1)/2)
	return coordinatewise(us, func(col []float32) float64 {
		slices.Sort(col)
		var s float64
		for _, v := range col[k : len(col)-k] {
			s += float64(v)
		}
		return s / float64(len(col)-2*k)
	})
}

// clipTo returns v scaled to L2 norm at most c (v itself when within).
func clipTo(v []float32, c float64) []float32 {
	norm := L2Norm(v)
	if norm <= c {
		return v
	}
	out := slices.Clone(v)
	tensor.Scale(float32(c/norm), out)
	return out
}

// dpMean clips every update to dp.Clip, sums them, adds N(0, (z·C)²) to
// every coordinate and divides by the number of updates.
func dpMean(us []Update, dp DPConfig, rng *rand.Rand) []float32 {
	sum := make([]float64, len(us[0].Delta))
	for _, u := range us {
		for i, v := range clipTo(u.Delta, dp.Clip) {
			sum[i] += float64(v)
		}
	}
	return noisyMean(sum, len(us), dp, rng)
}

// noisyMean returns (sum + N(0, (z·C)²)) / m as float32.
func noisyMean(sum []float64, m int, dp DPConfig, rng *rand.Rand) []float32 {
	out := make([]float32, len(sum))
	sd := dp.Noise * dp.Clip
	if sd > 0 && rng == nil {
		panic("fl: DP noise without a random source")
	}
	for i, s := range sum {
		if sd > 0 {
			s += sd * rng.NormFloat64()
		}
		out[i] = float32(s / float64(m))
	}
	return out
}
