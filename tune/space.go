package tune

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"reflect"
	"slices"
	"sort"
	"strings"

	"github.com/deepscope/deepscope/train"
)

// Dist is the distribution of one hyperparameter. In JSON it is an object
// with exactly one key, the kind, holding its arguments:
//
//	{"log": [1e-4, 1e-2]}        log-uniform between the ends (both > 0)
//	{"uniform": [0, 0.3]}        uniform between the ends
//	{"int": [4, 12]}             an integer from lo to hi, ends included
//	{"choice": [64, 128]}        one of the values, equally likely
//
// A log or uniform range on an integer field (batch, epochs) is rounded to
// the nearest integer.
type Dist struct {
	Kind   string  // "log", "uniform", "int" or "choice"
	Lo, Hi float64 // the ends of a range
	Values []any   // the values of a choice, as JSON decodes them
}

// Param is one hyperparameter of a Space: a train.Config field, named as
// in JSON (lr, weight_decay, batch, model, dropout, augment, ...), and its
// distribution.
type Param struct {
	Name string
	Dist Dist
}

// Space is a search space: the train.Config fields a search varies, sorted
// by name so that sampling and grids do not depend on the order of the
// JSON file. Its JSON form is an object from field name to Dist:
//
//	{"lr": {"log": [1e-4, 1e-2]}, "batch": {"choice": [64, 128]}, "dropout": {"uniform": [0, 0.3]}}
type Space []Param

// Params are the values one trial takes, by train.Config JSON field name.
// Numbers are float64 (integral for integer fields), as JSON decodes them.
type Params map[string]any

// untunable fields say where the data is or are computed by train.
var untunable = map[string]string{
	"data": "the dataset is given by --data", "split": "the split is given by --split",
	"group_weights": "train computes it",
}

// configFields maps each train.Config JSON field name to its kind.
func configFields() map[string]reflect.Kind {
	out := map[string]reflect.Kind{}
	t := reflect.TypeFor[train.Config]()
	for i := 0; i < t.NumField(); i++ {
		name := strings.Split(t.Field(i).Tag.Get("json"), ",")[0]
		out[name] = t.Field(i).Type.Kind()
	}
	return out
}

func isInt(k reflect.Kind) bool {
	return k >= reflect.Int && k <= reflect.Uint64
}

// ParseSpace reads a space from its JSON form and checks it: every name
// must be a tunable train.Config field, every distribution well formed,
// and every end of a range and every choice must be a value train accepts
// for that field. Errors name the field.
func ParseSpace(b []byte) (Space, error) {
	var raw map[string]map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("tune: space: %w (want an object such as {\"lr\": {\"log\": [1e-4, 1e-2]}})", err)
	}
	if len(raw) == 0 {
		return nil, fmt.Errorf("tune: space: no hyperparameters")
	}
	fields := configFields()
	var sp Space
	for name, obj := range raw {
		kind, ok := fields[name]
		if why, no := untunable[name]; no {
			return nil, fmt.Errorf("tune: space: %s: not searchable (%s)", name, why)
		}
		if !ok {
			names := make([]string, 0, len(fields))
			for n := range fields {
				if _, no := untunable[n]; !no {
					names = append(names, n)
				}
			}
			sort.Strings(names)
			return nil, fmt.Errorf("tune: space: %q is not a train.Config field (want one of %s)", name, strings.Join(names, ", "))
		}
		d, err := parseDist(name, obj, kind)
		if err != nil {
			return nil, err
		}
		sp = append(sp, Param{Name: name, Dist: d})
	}
	sort.Slice(sp, func(i, j int) bool { return sp[i].Name < sp[j].Name })
	return sp, nil
}

// LoadSpace reads and checks a space file.
func LoadSpace(path string) (Space, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("tune: %w", err)
	}
	sp, err := ParseSpace(b)
	if err != nil {
		return nil, fmt.Errorf("%w (in %s)", err, path)
	}
	return sp, nil
}

func parseDist(name string, obj map[string]json.RawMessage, kind reflect.Kind) (Dist, error) {
	bad := func(format string, a ...any) (Dist, error) {
		return Dist{}, fmt.Errorf("tune: space: %s: %s", name, fmt.Sprintf(format, a...))
	}
	if len(obj) != 1 {
		return bad("want exactly one of log, uniform, int or choice, got %d keys", len(obj))
	}
	var d Dist
	var arg json.RawMessage
	for k, v := range obj {
		d.Kind, arg = k, v
	}
	numeric := kind == reflect.Float64 || isInt(kind)
	switch d.Kind {
	case "log", "uniform", "int":
		var ends []float64
		if err := json.Unmarshal(arg, &ends); err != nil || len(ends) != 2 {
			return bad("%s wants two numbers [lo, hi], got %s", d.Kind, arg)
		}
		d.Lo, d.Hi = ends[0], ends[1]
		switch {
		case !numeric:
			return bad("%s range on a field that is not a number", d.Kind)
		case math.IsNaN(d.Lo) || math.IsNaN(d.Hi) || d.Lo > d.Hi:
			return bad("%s range [%g, %g]: want lo <= hi", d.Kind, d.Lo, d.Hi)
		case d.Kind == "log" && d.Lo <= 0:
			return bad("log range [%g, %g]: want lo > 0", d.Lo, d.Hi)
		case d.Kind == "int" && (d.Lo != math.Trunc(d.Lo) || d.Hi != math.Trunc(d.Hi)):
			return bad("int range [%g, %g]: want whole numbers", d.Lo, d.Hi)
		}
		for _, v := range []float64{d.Lo, d.Hi} {
			if err := checkValue(name, fieldValue(v, kind)); err != nil {
				return bad("%s end %g: %v", d.Kind, v, err)
			}
		}
	case "choice":
		if err := json.Unmarshal(arg, &d.Values); err != nil || len(d.Values) == 0 {
			return bad("choice wants a non-empty list of values, got %s", arg)
		}
		for i, v := range d.Values {
			if f, ok := v.(float64); ok && isInt(kind) && f != math.Trunc(f) {
				return bad("choice %v: want a whole number", v)
			}
			if err := checkValue(name, v); err != nil {
				return bad("choice %v: %v", v, err)
			}
			if slices.IndexFunc(d.Values[:i], func(o any) bool { return sameJSON(o, v) }) >= 0 {
				return bad("choice %v given twice", v)
			}
		}
	default:
		return bad("unknown kind %q (want log, uniform, int or choice)", d.Kind)
	}
	return d, nil
}

func sameJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

// fieldValue is v as the field of that kind takes it: rounded for integers.
func fieldValue(v float64, kind reflect.Kind) float64 {
	if isInt(kind) {
		return math.Round(v)
	}
	return v
}

// checkValue applies one value to the default config and validates it, so
// that a space cannot hold a value train refuses on its own (a dropout of
// 1.5, an unknown model). Combinations are checked per trial.
func checkValue(name string, v any) error {
	c := train.Defaults()
	c.Data = "-"
	c, err := Apply(c, Params{name: v})
	if err != nil {
		return err
	}
	if c.Epochs > 0 && c.WarmupEpochs > float64(c.Epochs) {
		c.WarmupEpochs = float64(c.Epochs) // a short run with the default warm-up is a combination, judged per trial
	}
	return c.Validate()
}

// Apply returns base with the params set, as if the JSON fields had been
// written over it. Unknown names and values of the wrong type are errors.
func Apply(base train.Config, p Params) (train.Config, error) {
	b, err := json.Marshal(base)
	if err != nil {
		return base, err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return base, err
	}
	for k, v := range p {
		m[k] = v
	}
	if b, err = json.Marshal(m); err != nil {
		return base, fmt.Errorf("tune: params: %w", err)
	}
	var c train.Config
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return base, fmt.Errorf("tune: params %v: %w", p, err)
	}
	return c, nil
}

// Sample draws one value of every hyperparameter from rng.
func (sp Space) Sample(rng *rand.Rand) Params {
	fields := configFields()
	p := Params{}
	for _, q := range sp {
		d, kind := q.Dist, fields[q.Name]
		var v float64
		switch d.Kind {
		case "choice":
			p[q.Name] = d.Values[rng.IntN(len(d.Values))]
			continue
		case "int":
			v = d.Lo + float64(rng.IntN(int(d.Hi-d.Lo)+1))
		case "log":
			v = math.Exp(math.Log(d.Lo) + rng.Float64()*(math.Log(d.Hi)-math.Log(d.Lo)))
		default:
			v = d.Lo + rng.Float64()*(d.Hi-d.Lo)
		}
		p[q.Name] = fieldValue(math.Min(math.Max(v, d.Lo), d.Hi), kind)
	}
	return p
}

// gridValues returns the values a grid takes for this distribution: a
// choice's values, every integer of an int range when there are at most
// points of them, else points values spread evenly over the range
// (geometrically for log), ends included; a single point is the range's
// centre. Integer fields are rounded and repeats dropped.
func (d Dist) gridValues(points int, kind reflect.Kind) []any {
	if d.Kind == "choice" {
		return d.Values
	}
	if d.Kind == "int" && int(d.Hi-d.Lo)+1 <= points {
		var out []any
		for v := d.Lo; v <= d.Hi; v++ {
			out = append(out, v)
		}
		return out
	}
	var out []any
	for i := 0; i < max(points, 1); i++ {
		t := 0.5
		if points > 1 {
			t = float64(i) / float64(points-1)
		}
		v := d.Lo + t*(d.Hi-d.Lo)
		if d.Kind == "log" {
			v = math.Exp(math.Log(d.Lo) + t*(math.Log(d.Hi)-math.Log(d.Lo)))
		}
		if d.Kind == "int" {
			kind = reflect.Int
		}
		v = fieldValue(math.Min(math.Max(v, d.Lo), d.Hi), kind)
		if !slices.Contains(out, any(v)) {
			out = append(out, v)
		}
	}
	return out
}

// Grid returns the Cartesian product of every parameter's values, the last
// parameter by name varying fastest. A choice gives its values; a range
// gives points values spread evenly from one end to the other, ends
// included (geometrically for log ranges; every integer of an int range
// that holds at most points of them; the centre when points is 1), rounded
// for integer fields, repeats dropped.
func (sp Space) Grid(points int) []Params {
	fields := configFields()
	axes := make([][]any, len(sp))
	n := 1
	for i, q := range sp {
		axes[i] = q.Dist.gridValues(points, fields[q.Name])
		n *= len(axes[i])
	}
	out := make([]Params, 0, n)
	idx := make([]int, len(sp))
	for range n {
		p := Params{}
		for i, q := range sp {
			p[q.Name] = axes[i][idx[i]]
		}
		out = append(out, p)
		for i := len(idx) - 1; i >= 0; i-- {
			if idx[i]++; idx[i] < len(axes[i]) {
				break
			}
			idx[i] = 0
		}
	}
	return out
}

// MarshalJSON writes the space in the form ParseSpace reads.
func (sp Space) MarshalJSON() ([]byte, error) {
	m := map[string]map[string]any{}
	for _, q := range sp {
		if q.Dist.Kind == "choice" {
			m[q.Name] = map[string]any{"choice": q.Dist.Values}
		} else {
			m[q.Name] = map[string]any{q.Dist.Kind: []float64{q.Dist.Lo, q.Dist.Hi}}
		}
	}
	return json.Marshal(m)
}

// UnmarshalJSON reads the space as ParseSpace does.
func (sp *Space) UnmarshalJSON(b []byte) error {
	s, err := ParseSpace(b)
	if err != nil {
		return err
	}
	*sp = s
	return nil
}
