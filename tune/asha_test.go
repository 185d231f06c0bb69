package tune

import (
	"reflect"
	"testing"
)

func TestRungs(t *testing.T) {
	for _, c := range []struct {
		a    ASHA
		max  int
		want []int
	}{
		{ASHA{MinEpochs: 1, Eta: 3}, 15, []int{1, 3, 9}},
		{ASHA{MinEpochs: 2, Eta: 3}, 15, []int{2, 6}},
		{ASHA{MinEpochs: 2, Eta: 3}, 6, []int{2}}, // 6 completes the trial: no rung
		{ASHA{MinEpochs: 3, Eta: 2}, 3, nil},
		{ASHA{}, 10, []int{1, 3, 9}}, // defaults: 1 and 3
	} {
		if got := c.a.Rungs(c.max); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%+v.Rungs(%d) = %v, want %v", c.a, c.max, got, c.want)
		}
	}
}

func TestPromotable(t *testing.T) {
	for _, c := range []struct {
		v      float64
		values []float64
		eta    int
		want   bool
	}{
		{0.5, []float64{0.5}, 3, true},                          // the first trial at a rung goes on
		{0.4, []float64{0.5, 0.4}, 3, false},                    // fewer than eta: only the best
		{0.6, []float64{0.5, 0.6}, 3, true},                     // a new best
		{0.7, []float64{0.9, 0.8, 0.7}, 3, false},               // 3 values, top 1
		{0.8, []float64{0.9, 0.8, 0.7, 0.6, 0.5, 0.4}, 3, true}, // 6 values, top 2
		{0.7, []float64{0.9, 0.8, 0.7, 0.6, 0.5, 0.4}, 3, false},
		{0.8, []float64{0.9, 0.8, 0.8, 0.1}, 2, true}, // a tie at the cut goes on
	} {
		if got := Promotable(c.v, c.values, c.eta); got != c.want {
			t.Errorf("Promotable(%v, %v, %d) = %v, want %v", c.v, c.values, c.eta, got, c.want)
		}
	}
}

func TestNextPromotion(t *testing.T) {
	r := func(trial int, v float64, paused bool) RungResult { return RungResult{trial, v, paused} }
	for _, c := range []struct {
		name  string
		rungs [][]RungResult
		want  int // 0: none
	}{
		{"nothing paused", [][]RungResult{{r(1, 0.9, false), r(2, 0.5, false)}}, 0},
		{"paused, not in the top third yet",
			[][]RungResult{{r(1, 0.9, false), r(2, 0.8, true)}}, 0},
		{"enough worse trials arrived",
			[][]RungResult{{r(1, 0.9, false), r(2, 0.8, true), r(3, 0.1, true), r(4, 0.2, true), r(5, 0.3, true), r(6, 0.4, true)}}, 2},
		{"best paused first",
			[][]RungResult{{r(1, 0.7, true), r(2, 0.8, true), r(3, 0.1, true), r(4, 0.2, true), r(5, 0.3, true), r(6, 0.4, true)}}, 2},
		{"higher rung first",
			[][]RungResult{
				{r(1, 0.9, false), r(2, 0.8, true), r(3, 0.1, true), r(4, 0.2, true), r(5, 0.3, true), r(6, 0.4, true)},
				{r(1, 0.95, true)}}, 1},
		{"a higher rung with nobody promotable falls to the lower one",
			[][]RungResult{
				{r(1, 0.9, false), r(2, 0.8, false), r(3, 0.7, true), r(4, 0.2, true), r(5, 0.3, true), r(6, 0.4, true), r(7, 0.1, true), r(8, 0.1, true), r(9, 0.1, true)},
				{r(1, 0.95, false), r(2, 0.5, true)}}, 3},
	} {
		got, ok := NextPromotion(c.rungs, 3)
		if !ok {
			got = 0
		}
		if got != c.want {
			t.Errorf("%s: promoted %d, want %d", c.name, got, c.want)
		}
	}
}
