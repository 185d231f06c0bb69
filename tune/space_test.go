package tune

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/deepscope/deepscope/train"
)

func TestParseSpaceErrors(t *testing.T) {
	for _, c := range []struct{ space, want string }{
		{`[1, 2]`, "want an object"},
		{`{}`, "no hyperparameters"},
		{`{"lrr": {"log": [1e-4, 1e-2]}}`, `"lrr" is not a train.Config field`},
		{`{"data": {"choice": ["a"]}}`, "data: not searchable"},
		{`{"lr": {"log": [1e-4, 1e-2], "uniform": [0, 1]}}`, "lr: want exactly one of"},
		{`{"lr": {"gauss": [0, 1]}}`, `lr: unknown kind "gauss"`},
		{`{"lr": {"log": [1e-2]}}`, "lr: log wants two numbers"},
		{`{"lr": {"log": [1e-2, 1e-4]}}`, "lr: log range [0.01, 0.0001]: want lo <= hi"},
		{`{"lr": {"log": [0, 1e-2]}}`, "lr: log range [0, 0.01]: want lo > 0"},
		{`{"epochs": {"int": [2.5, 6]}}`, "epochs: int range [2.5, 6]: want whole numbers"},
		{`{"dropout": {"uniform": [0, 1.5]}}`, "dropout: uniform end 1.5: train: dropout 1.5"},
		{`{"model": {"uniform": [0, 1]}}`, "model: uniform range on a field that is not a number"},
		{`{"model": {"choice": ["cellnet", "nonet"]}}`, "model: choice nonet: train: model nonet"},
		{`{"augment": {"choice": []}}`, "augment: choice wants a non-empty list"},
		{`{"augment": {"choice": ["light", "light"]}}`, "augment: choice light given twice"},
		{`{"batch": {"choice": [64, 96.5]}}`, "batch: choice 96.5: want a whole number"},
		{`{"batch": {"choice": [64, "big"]}}`, "batch: choice big"},
		{`{"label_smoothing": {"uniform": [0, 1]}}`, "label_smoothing: uniform end 1: train: label_smoothing 1"},
	} {
		_, err := ParseSpace([]byte(c.space))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.space, err, c.want)
		}
	}
}

const fullSpace = `{
  "lr": {"log": [1e-4, 1e-2]},
  "weight_decay": {"log": [1e-3, 0.1]},
  "batch": {"choice": [64, 128]},
  "model": {"choice": ["cellnet", "resnet18-medmnist"]},
  "dropout": {"uniform": [0, 0.3]},
  "augment": {"choice": ["light", "standard", "strong"]},
  "label_smoothing": {"uniform": [0, 0.2]},
  "epochs": {"int": [4, 12]}
}`

func TestSampleReproducibleAndInRange(t *testing.T) {
	sp, err := ParseSpace([]byte(fullSpace))
	if err != nil {
		t.Fatal(err)
	}
	if got := sp[0].Name; got != "augment" {
		t.Errorf("first parameter %q, want the space sorted by name", got)
	}
	draw := func(seed uint64) []Params {
		rng := rand.New(rand.NewPCG(seed, 1))
		var out []Params
		for range 2000 {
			out = append(out, sp.Sample(rng))
		}
		return out
	}
	a, b, c := draw(5), draw(5), draw(6)
	if !reflect.DeepEqual(a, b) {
		t.Error("the same seed drew different params")
	}
	if reflect.DeepEqual(a, c) {
		t.Error("different seeds drew the same params")
	}
	below, seen := 0, map[any]bool{}
	for _, p := range a {
		lr := p["lr"].(float64)
		if lr < 1e-4 || lr > 1e-2 {
			t.Fatalf("lr %g outside [1e-4, 1e-2]", lr)
		}
		if lr < 1e-3 { // the geometric centre: half of a log-uniform's mass lies below it
			below++
		}
		if e := p["epochs"].(float64); e != math.Trunc(e) || e < 4 || e > 12 {
			t.Fatalf("epochs %v not a whole number in [4, 12]", e)
		}
		if d := p["dropout"].(float64); d < 0 || d > 0.3 {
			t.Fatalf("dropout %g outside [0, 0.3]", d)
		}
		seen[p["augment"]] = true
		cfg, err := Apply(train.Defaults(), p)
		if err != nil || cfg.LR != lr || float64(cfg.Batch) != p["batch"].(float64) || cfg.Augment != p["augment"] {
			t.Fatalf("Apply(%v) = %+v, %v", p, cfg, err)
		}
	}
	if frac := float64(below) / float64(len(a)); math.Abs(frac-0.5) > 0.05 {
		t.Errorf("%.3f of log-uniform lr draws lie below the geometric centre, want about 0.5", frac)
	}
	if len(seen) != 3 {
		t.Errorf("augment took %d of its 3 values in 2000 draws", len(seen))
	}
}

func TestGrid(t *testing.T) {
	for _, c := range []struct {
		space  string
		points int
		want   []string
	}{
		{`{"batch": {"choice": [64, 128]}, "dropout": {"uniform": [0, 0.3]}}`, 3,
			[]string{"batch=64 dropout=0", "batch=64 dropout=0.15", "batch=64 dropout=0.3",
				"batch=128 dropout=0", "batch=128 dropout=0.15", "batch=128 dropout=0.3"}},
		{`{"lr": {"log": [1e-4, 1e-2]}}`, 3, []string{"lr=0.0001", "lr=0.001", "lr=0.01"}},
		{`{"lr": {"log": [1e-4, 1e-2]}}`, 1, []string{"lr=0.001"}},
		{`{"epochs": {"int": [4, 5]}}`, 3, []string{"epochs=4", "epochs=5"}},
		{`{"epochs": {"int": [2, 12]}}`, 3, []string{"epochs=2", "epochs=7", "epochs=12"}},
		{`{"batch": {"uniform": [16, 17]}}`, 3, []string{"batch=16", "batch=17"}}, // 16.5 rounds to 17, a repeat
	} {
		sp, err := ParseSpace([]byte(c.space))
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, p := range sp.Grid(c.points) {
			got = append(got, ParamString(sp, p))
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s, %d points: grid %q, want %q", c.space, c.points, got, c.want)
		}
	}
}

func TestSpaceJSONRoundTrip(t *testing.T) {
	sp, err := ParseSpace([]byte(fullSpace))
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(sp)
	if err != nil {
		t.Fatal(err)
	}
	var back Space
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(sp, back) {
		t.Errorf("space changed through JSON:\n%+v\n%+v", sp, back)
	}
}

// TestShippedSpaces checks that the space files in testdata parse.
func TestShippedSpaces(t *testing.T) {
	for _, name := range []string{"pbc28_space.json"} {
		if _, err := LoadSpace("testdata/" + name); err != nil {
			t.Error(err)
		}
	}
}
