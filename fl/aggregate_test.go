package fl

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

func ups(samples []int, deltas ...[]float32) []Update {
	us := make([]Update, len(deltas))
	for i, d := range deltas {
		us[i] = Update{Client: string(rune('a' + i)), Samples: samples[i], Delta: d}
	}
	return us
}

func near32(a, b []float32, tol float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Abs(float64(a[i])-float64(b[i])) > tol {
			return false
		}
	}
	return true
}

func TestCombine(t *testing.T) {
	off := AggregateConfig{NormFactor: -1}
	tests := []struct {
		name    string
		cfg     AggregateConfig
		updates []Update
		want    []float32
	}{
		{"fedavg weights by samples", off, ups([]int{1, 3}, []float32{4, 0, -2}, []float32{0, 4, 2}), []float32{1, 3, 1}},
		{"fedprox aggregates as fedavg", AggregateConfig{Method: FedProx, NormFactor: -1}, ups([]int{2, 2}, []float32{1, 2}, []float32{3, 6}), []float32{2, 4}},
		{"median odd", AggregateConfig{Method: Median, NormFactor: -1},
			ups([]int{1, 100, 1}, []float32{1, -5, 0}, []float32{2, 9, 0}, []float32{30, 1, 7}), []float32{2, 1, 0}},
		{"median even averages the middle", AggregateConfig{Method: Median, NormFactor: -1},
			ups([]int{1, 1, 1, 1}, []float32{1}, []float32{2}, []float32{4}, []float32{100}), []float32{3}},
		{"trimmed mean drops one each end of five", AggregateConfig{Method: Trimmed, Trim: 0.2, NormFactor: -1},
			ups([]int{1, 1, 1, 1, 1}, []float32{-100, 1}, []float32{1, 2}, []float32{2, 3}, []float32{3, 4}, []float32{100, 500}), []float32{2, 3}},
		{"trimmed mean of two keeps both", AggregateConfig{Method: Trimmed, Trim: 0.4, NormFactor: -1},
			ups([]int{1, 1}, []float32{1}, []float32{3}), []float32{2}},
		{"norm outlier dropped before fedavg", AggregateConfig{},
			ups([]int{1, 1, 1}, []float32{1, 0}, []float32{0, 1}, []float32{1000, 1000}), []float32{0.5, 0.5}},
	}
	for _, tc := range tests {
		got, _, err := Combine(tc.updates, tc.cfg, nil)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if !near32(got, tc.want, 1e-6) {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestCombineRejectsLargeNorms(t *testing.T) {
	us := ups([]int{1, 1, 1, 1}, []float32{1, 1}, []float32{-1, 1}, []float32{1, -1}, []float32{300, 0})
	_, rej, err := Combine(us, AggregateConfig{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(rej) != 1 || rej[0].Client != "d" || !strings.Contains(rej[0].Reason, "times the median") {
		t.Errorf("rejections %+v, want only d for its norm", rej)
	}
	// Turning the check off keeps it.
	if _, rej, _ := Combine(us, AggregateConfig{NormFactor: -1}, nil); len(rej) != 0 {
		t.Errorf("with the check off: rejections %+v", rej)
	}
}

func TestCombineDP(t *testing.T) {
	// Without noise, DP-FedAvg is the unweighted mean of the clipped updates.
	us := ups([]int{1, 99}, []float32{3, 4}, []float32{0, 0.5})
	got, _, err := Combine(us, AggregateConfig{DP: DPConfig{Clip: 1}, NormFactor: -1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := []float32{0.3, 0.65}; !near32(got, want, 1e-6) {
		t.Errorf("clipped mean %v, want %v", got, want)
	}
	// With noise, the spread of the mean is noise·clip/m.
	zero := make([]float32, 20000)
	us = ups([]int{1, 1}, zero, zero)
	got, _, err = Combine(us, AggregateConfig{DP: DPConfig{Clip: 2, Noise: 1.5}, NormFactor: -1}, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		t.Fatal(err)
	}
	var sq float64
	for _, v := range got {
		sq += float64(v) * float64(v)
	}
	if sd, want := math.Sqrt(sq/float64(len(got))), 1.5*2/2.0; math.Abs(sd-want) > 0.03 {
		t.Errorf("noise standard deviation %.4f, want %.4f", sd, want)
	}
}

func TestAggregateConfigErrors(t *testing.T) {
	tests := []struct {
		cfg  AggregateConfig
		want string
	}{
		{AggregateConfig{Method: "krum"}, "want one of"},
		{AggregateConfig{Method: Trimmed, Trim: 0.5}, "trim 0.5"},
		{AggregateConfig{DP: DPConfig{Noise: 1}}, "needs a clip norm"},
		{AggregateConfig{Method: Median, DP: DPConfig{Clip: 1}}, "not median"},
	}
	for _, tc := range tests {
		if err := tc.cfg.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want %q", tc.cfg, err, tc.want)
		}
	}
	if _, _, err := Combine(nil, AggregateConfig{}, nil); err == nil {
		t.Error("Combine of no updates gave no error")
	}
}

func newTestRand() *rand.Rand { return rand.New(rand.NewPCG(11, 12)) }
