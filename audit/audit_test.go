package audit

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// onehot returns probabilities that put 0.9 on class p of k.
func onehot(p, k int) []float64 {
	row := make([]float64, k)
	for j := range row {
		row[j] = 0.1 / float64(k-1)
	}
	row[p] = 0.9
	return row
}

// handData: two classes, two groups of 40. Group a: 20 of class 0 (18
// predicted 0), 20 of class 1 (16 predicted 1). Group b: 20 of class 0 (10
// predicted 0), 20 of class 1 (20 predicted 1).
func handData() Data {
	var d Data
	d.Classes = []string{"neg", "pos"}
	col := Column{Name: "site"}
	add := func(g string, y, p, n int) {
		for range n {
			d.Labels = append(d.Labels, y)
			d.Probs = append(d.Probs, onehot(p, 2))
			col.Values = append(col.Values, g)
		}
	}
	add("a", 0, 0, 18)
	add("a", 0, 1, 2)
	add("a", 1, 1, 16)
	add("a", 1, 0, 4)
	add("b", 0, 0, 10)
	add("b", 0, 1, 10)
	add("b", 1, 1, 20)
	d.Columns = []Column{col}
	return d
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

// TestHand checks the rates and gaps of handData worked out by hand.
func TestHand(t *testing.T) {
	r, err := Run(handData(), Config{Resamples: -1, Limits: MaxGapAll(0.1)})
	if err != nil {
		t.Fatal(err)
	}
	a := r.Attributes[0]
	ga, gb := a.Groups[0], a.Groups[1]
	checks := []struct {
		name      string
		got, want float64
	}{
		{"accuracy a", ga.Accuracy.Value, 34.0 / 40},
		{"accuracy b", gb.Accuracy.Value, 30.0 / 40},
		{"tpr a pos", ga.Classes[1].TPR.Value, 16.0 / 20},
		{"tpr b pos", gb.Classes[1].TPR.Value, 1},
		{"fpr a pos", ga.Classes[1].FPR.Value, 2.0 / 20},
		{"fpr b pos", gb.Classes[1].FPR.Value, 10.0 / 20},
		{"selection a pos", ga.Classes[1].Selection.Value, 18.0 / 40},
		{"selection b pos", gb.Classes[1].Selection.Value, 30.0 / 40},
		{"tpr a neg", ga.Classes[0].TPR.Value, 18.0 / 20},
		{"tpr b neg", gb.Classes[0].TPR.Value, 10.0 / 20},
	}
	for _, c := range checks {
		if !near(c.got, c.want) {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	want := map[Criterion]struct{ gap, ratio float64 }{
		Accuracy:          {0.1, 30.0 / 34},
		DemographicParity: {0.3, 0.25 / 0.55}, // neg: 0.55 vs 0.25; pos: 0.45 vs 0.75: both 0.3
		EqualOpportunity:  {0.4, 0.5 / 0.9},   // neg: 0.9 vs 0.5
		EqualizedOdds:     {0.4, 0},           // neg: TPR 0.9 vs 0.5, FPR 0.2 vs 0 (ratio 0)
	}
	for c, w := range want {
		g := a.Worst(c)
		if g == nil {
			t.Fatalf("%s: no gap", c)
		}
		if !near(g.Gap.Value, w.gap) {
			t.Errorf("%s gap = %v (class %s), want %v", c, g.Gap.Value, g.Class, w.gap)
		}
		minRatio := math.Inf(1)
		for _, gp := range a.Gaps {
			if gp.Criterion == c {
				minRatio = math.Min(minRatio, gp.Ratio.Value)
			}
		}
		if !near(minRatio, w.ratio) {
			t.Errorf("%s smallest ratio = %v, want %v", c, minRatio, w.ratio)
		}
	}
	if g := a.Worst(EqualOpportunity); g.Low != "b" || g.High != "a" || g.Class != "neg" {
		t.Errorf("equal opportunity worst: class %s, low %s, high %s; want neg, b, a", g.Class, g.Low, g.High)
	}
	// Accuracy's gap of exactly 0.1 passes a limit of 0.1; the others fail.
	if v := a.CriterionVerdict(Accuracy); v != Pass {
		t.Errorf("accuracy verdict %s, want pass", v)
	}
	if v := a.CriterionVerdict(EqualOpportunity); v != Fail {
		t.Errorf("equal opportunity verdict %s, want fail", v)
	}
	if r.Verdict != Fail {
		t.Errorf("verdict %s, want fail", r.Verdict)
	}
	if a.ClassMix != 0 {
		t.Errorf("class mix distance %v between groups of 20 and 20 each", a.ClassMix)
	}
	if f := r.Failures(); len(f) != 3 {
		t.Errorf("failures %q, want 3", f)
	}
}

// TestLimitsSelectCriteria: only limited criteria are checked.
func TestLimitsSelectCriteria(t *testing.T) {
	tests := []struct {
		limits Limits
		want   Verdict
	}{
		{Limits{}, NotChecked},
		{Limits{MaxGap: map[Criterion]float64{Accuracy: 0.1}}, Pass},
		{Limits{MaxGap: map[Criterion]float64{Accuracy: 0.05}}, Fail},
		{Limits{MinRatio: map[Criterion]float64{DemographicParity: 0.4}}, Pass}, // ratios 0.6 and 0.25/0.55
		{Limits{MinRatio: map[Criterion]float64{DemographicParity: 0.5}}, Fail},
	}
	for _, tc := range tests {
		r, err := Run(handData(), Config{Resamples: -1, Limits: tc.limits})
		if err != nil {
			t.Fatal(err)
		}
		if got := r.Attributes[0].Verdict; got != tc.want || r.Verdict != tc.want {
			t.Errorf("limits %v: verdict %s (report %s), want %s", tc.limits, got, r.Verdict, tc.want)
		}
	}
}

// simulated draws n images per group with the given accuracy per group
// over k classes (labels uniform, errors spread over the other classes).
func simulated(accs map[string]float64, n, k int, seed uint64) Data {
	rng := rand.New(rand.NewPCG(seed, 1))
	d := Data{Columns: []Column{{Name: "site"}}}
	for c := range k {
		d.Classes = append(d.Classes, string(rune('a'+c)))
	}
	for _, g := range []string{"site1", "site2", "site3"} {
		acc, ok := accs[g]
		if !ok {
			continue
		}
		for range n {
			y := rng.IntN(k)
			p := y
			if rng.Float64() > acc {
				p = (y + 1 + rng.IntN(k-1)) % k
			}
			d.Labels = append(d.Labels, y)
			d.Probs = append(d.Probs, onehot(p, k))
			d.Columns[0].Values = append(d.Columns[0].Values, g)
		}
	}
	return d
}

// TestFindsGap: a real accuracy difference is found and its interval
// excludes zero; equal groups pass and their gap interval covers zero.
func TestFindsGap(t *testing.T) {
	tests := []struct {
		name        string
		accs        map[string]float64
		significant bool
		want        Verdict
	}{
		{"different", map[string]float64{"site1": 0.95, "site2": 0.7}, false, Fail},
		{"different, judged by intervals", map[string]float64{"site1": 0.95, "site2": 0.7}, true, Fail},
		{"equal", map[string]float64{"site1": 0.9, "site2": 0.9}, true, Pass},
	}
	for _, tc := range tests {
		d := simulated(tc.accs, 400, 4, 7)
		r, err := Run(d, Config{Seed: 3, Resamples: 300, Significant: tc.significant,
			Limits: Limits{MaxGap: map[Criterion]float64{Accuracy: 0.05, EqualOpportunity: 0.1}}})
		if err != nil {
			t.Fatal(err)
		}
		a := r.Attributes[0]
		if a.Verdict != tc.want {
			t.Errorf("%s: verdict %s, want %s", tc.name, a.Verdict, tc.want)
		}
		g := a.Worst(Accuracy)
		if !g.Gap.CI.Contains(g.Gap.Value) {
			t.Errorf("%s: gap %v outside its interval %v", tc.name, g.Gap.Value, g.Gap.CI)
		}
		if g.Gap.CI.Contains(0) != (tc.want == Pass) {
			t.Errorf("%s: accuracy gap %v %v", tc.name, g.Gap.Value, g.Gap.CI)
		}
		for _, grp := range a.Groups {
			for _, c := range grp.Classes {
				for _, e := range []Estimate{c.TPR, c.FPR, c.Selection} {
					if !e.CI.Contains(e.Value) {
						t.Errorf("%s: %s %s: %v outside %v", tc.name, grp.Name, c.Name, e.Value, e.CI)
					}
				}
			}
		}
	}
}

// TestSmallGroups: groups under MinSupport are shown, not judged; with one
// judged group left the audit is inconclusive, which is not a pass.
func TestSmallGroups(t *testing.T) {
	d := simulated(map[string]float64{"site1": 0.9, "site2": 0.5}, 200, 3, 1)
	// shrink site2 to 20 images
	var keep []int
	n2 := 0
	for i, v := range d.Columns[0].Values {
		if v == "site2" {
			n2++
			if n2 > 20 {
				continue
			}
		}
		keep = append(keep, i)
	}
	var s Data
	s.Classes = d.Classes
	s.Columns = []Column{{Name: "site"}}
	for _, i := range keep {
		s.Labels = append(s.Labels, d.Labels[i])
		s.Probs = append(s.Probs, d.Probs[i])
		s.Columns[0].Values = append(s.Columns[0].Values, d.Columns[0].Values[i])
	}
	r, err := Run(s, Config{Seed: 1, Resamples: 200, Limits: MaxGapAll(0.05)})
	if err != nil {
		t.Fatal(err)
	}
	a := r.Attributes[0]
	if a.Groups[1].Judged || a.Groups[1].Note == "" || !a.Groups[0].Judged {
		t.Errorf("site2 of 20 images: judged %v, note %q; site1 judged %v", a.Groups[1].Judged, a.Groups[1].Note, a.Groups[0].Judged)
	}
	if r.Verdict != Inconclusive {
		t.Errorf("verdict %s, want inconclusive", r.Verdict)
	}
	// Lowering the bar judges it, and the 0.9 vs 0.5 accuracy fails.
	r, err = Run(s, Config{Seed: 1, Resamples: 200, MinSupport: 10, MaxWidth: 1, MinClassSupport: 3, Limits: MaxGapAll(0.05)})
	if err != nil {
		t.Fatal(err)
	}
	if r.Verdict != Fail {
		t.Errorf("with min support 10: verdict %s, want fail", r.Verdict)
	}
}

// TestWideIntervalNotJudged: a per-class rate with few images behind it
// is not judged even in a large group.
func TestWideIntervalNotJudged(t *testing.T) {
	d := handData()
	// Make class "pos" rare in group b: relabel all but 4 of b's positives as negatives predicted right.
	seen := 0
	for i, v := range d.Columns[0].Values {
		if v == "b" && d.Labels[i] == 1 {
			seen++
			if seen > 4 {
				d.Labels[i] = 0
				d.Probs[i] = onehot(0, 2)
			}
		}
	}
	r, err := Run(d, Config{Seed: 1, Resamples: 200})
	if err != nil {
		t.Fatal(err)
	}
	b := r.Attributes[0].Groups[1]
	if b.Classes[1].TPRJudged || !b.Classes[0].TPRJudged {
		t.Errorf("group b: pos TPR (4 images) judged %v, neg TPR (36 images) judged %v", b.Classes[1].TPRJudged, b.Classes[0].TPRJudged)
	}
	// a is half positive, b a tenth: total variation 0.4, worth a note.
	if cm := r.Attributes[0].ClassMix; !near(cm, 0.4) {
		t.Errorf("class mix distance %v, want 0.4", cm)
	}
	var buf bytes.Buffer
	if err := r.WriteText(&buf); err != nil || !strings.Contains(buf.String(), "class mixes differ") {
		t.Errorf("no class-mix note in the text (%v)", err)
	}
}

// TestDeterministic: the same seed gives the same report.
func TestDeterministic(t *testing.T) {
	d := simulated(map[string]float64{"site1": 0.8, "site2": 0.7, "site3": 0.75}, 100, 3, 2)
	var out [2][]byte
	for i := range out {
		r, err := Run(d, Config{Seed: 9, Resamples: 100})
		if err != nil {
			t.Fatal(err)
		}
		if out[i], err = json.Marshal(r); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(out[0], out[1]) {
		t.Error("two runs with one seed differ")
	}
}

func TestErrors(t *testing.T) {
	good := handData()
	tests := []struct {
		name string
		edit func(d *Data)
		cfg  Config
		want string
	}{
		{"no images", func(d *Data) { d.Labels, d.Probs = nil, nil }, Config{}, "no images"},
		{"label range", func(d *Data) { d.Labels[3] = 2 }, Config{}, "label 2 out of range"},
		{"row length", func(d *Data) { d.Probs[1] = []float64{1} }, Config{}, "image 1: 1 probabilities"},
		{"column length", func(d *Data) { d.Columns[0].Values = d.Columns[0].Values[:5] }, Config{}, `column "site" has 5 values`},
		{"no columns", func(d *Data) { d.Columns = nil }, Config{}, "no column"},
		{"bad limit", func(d *Data) {}, Config{Limits: Limits{MaxGap: map[Criterion]float64{"parity": 0.1}}}, `unknown criterion "parity"`},
	}
	for _, tc := range tests {
		d := good
		d.Labels = append([]int(nil), good.Labels...)
		d.Probs = append([][]float64(nil), good.Probs...)
		d.Columns = []Column{{Name: "site", Values: append([]string(nil), good.Columns[0].Values...)}}
		tc.edit(&d)
		_, err := Run(d, tc.cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
}

func TestReadLimits(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		text string
		want string // error fragment; "" for none
	}{
		{`{"max_gap": {"equal_opportunity": 0.05}, "min_ratio": {"demographic_parity": 0.8}}`, ""},
		{`{"max_gap": {"equal_oportunity": 0.05}}`, "unknown criterion"},
		{`{"max_gaps": {"accuracy": 0.05}}`, "unknown field"},
		{`{"max_gap": {"accuracy": 2}}`, "want a value in [0, 1]"},
	}
	for i, tc := range tests {
		p := filepath.Join(dir, "l.json")
		if err := os.WriteFile(p, []byte(tc.text), 0o644); err != nil {
			t.Fatal(err)
		}
		l, err := ReadLimits(p)
		if tc.want == "" {
			if err != nil || l.MaxGap[EqualOpportunity] != 0.05 || l.MinRatio[DemographicParity] != 0.8 {
				t.Errorf("%d: %v, %v", i, l, err)
			}
		} else if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%d: error %v, want %q", i, err, tc.want)
		}
	}
}

func TestColumns(t *testing.T) {
	meta := []map[string]string{
		{"site": "A", "scanner": "x"},
		{"site": "B", "scanner": "x"},
		{"site": "A"},
	}
	cols, err := Columns("site, site+scanner,site", meta)
	if err != nil {
		t.Fatal(err)
	}
	if len(cols) != 2 || cols[0].Name != "site" || cols[1].Name != "site+scanner" {
		t.Fatalf("columns %+v", cols)
	}
	if got := strings.Join(cols[1].Values, ","); got != "A/x,B/x,A/"+Missing {
		t.Errorf("combined values %s", got)
	}
	if _, err := Columns("patient", meta); err == nil || !strings.Contains(err.Error(), "columns: scanner, site") {
		t.Errorf("missing column: %v", err)
	}
}

// TestJSON: NaN becomes null and the report reads back.
func TestJSON(t *testing.T) {
	d := handData()
	d.Columns[0].Values[0] = "c" // a group of one image: AUC undefined
	r, err := Run(d, Config{Seed: 1, Resamples: 50, Limits: MaxGapAll(0.2)})
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(`"value":null`)) {
		t.Error("no null value for an undefined measure")
	}
	var back Report
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.Verdict != r.Verdict || len(back.Attributes[0].Gaps) != len(r.Attributes[0].Gaps) ||
		back.Attributes[0].Groups[0].Accuracy != r.Attributes[0].Groups[0].Accuracy {
		t.Error("report does not read back")
	}
}

// TestText and TestSection: the tables carry the verdict and the groups,
// and HTML escapes group names.
func TestTextAndSection(t *testing.T) {
	d := handData()
	for i, v := range d.Columns[0].Values {
		if v == "b" {
			d.Columns[0].Values[i] = "<b>"
		}
	}
	r, err := Run(d, Config{Seed: 1, Resamples: 50, Limits: MaxGapAll(0.1)})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := r.WriteText(&buf); err != nil {
		t.Fatal(err)
	}
	txt := buf.String()
	for _, want := range []string{"site: 2 groups", "equal opportunity", "verdict: FAIL", "<b>"} {
		if !strings.Contains(txt, want) {
			t.Errorf("text lacks %q:\n%s", want, txt)
		}
	}
	s := r.Section()
	if strings.Contains(string(s.Body), "<b>") || !strings.Contains(string(s.Body), "&lt;b&gt;") {
		t.Error("section does not escape a group name")
	}
}
