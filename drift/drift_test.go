package drift_test

import (
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/deepscope/deepscope/drift"
	"github.com/deepscope/deepscope/models"
	"github.com/deepscope/deepscope/nn"
	"github.com/deepscope/deepscope/synth"
	"github.com/deepscope/deepscope/tensor"
	"github.com/deepscope/deepscope/train"
)

const testSize = 32

// testModel returns an untrained CellNet wrapped as a run's model; its
// statistics are enough to show drift, which is about the inputs.
func testModel(t testing.TB, dir string) *train.Model {
	t.Helper()
	classes := []string{}
	for _, c := range synth.AllClasses() {
		classes = append(classes, c.String())
	}
	net, err := models.New("cellnet", rand.New(rand.NewPCG(1, 2)), models.Spec{Classes: len(classes), Size: testSize})
	if err != nil {
		t.Fatal(err)
	}
	nn.SetTraining(net, false)
	info := &train.RunInfo{Config: train.Config{Model: "cellnet", Size: testSize, Crop: 1, Seed: 1},
		Classes: classes, Channels: 3, Mean: []float32{0.75, 0.6, 0.6}, Std: []float32{0.2, 0.25, 0.2}}
	return &train.Model{Dir: dir, Info: info, Net: net}
}

// cells renders synthetic cells of the given split.
func cells(t testing.TB, split string, n int) []*tensor.Tensor {
	t.Helper()
	cfg := synth.Config{N: 800, Size: testSize, Seed: 7}
	items, err := synth.Plan(cfg)
	if err != nil {
		t.Fatal(err)
	}
	rand.New(rand.NewPCG(3, 3)).Shuffle(len(items), func(i, j int) { items[i], items[j] = items[j], items[i] })
	var out []*tensor.Tensor
	for _, it := range items {
		if it.Split == split && len(out) < n {
			out = append(out, synth.Render(cfg, it))
		}
	}
	return out
}

func seq(imgs []*tensor.Tensor) func(func(*tensor.Tensor, error) bool) {
	return func(yield func(*tensor.Tensor, error) bool) {
		for _, im := range imgs {
			if !yield(im, nil) {
				return
			}
		}
	}
}

// shifted returns imgs with each channel scaled by gain (a different lamp
// or stain batch), clipped to [0, 1].
func shifted(imgs []*tensor.Tensor, gain [3]float32) []*tensor.Tensor {
	var out []*tensor.Tensor
	for _, im := range imgs {
		c := im.Clone()
		for i := range c.Data {
			c.Data[i] = min(c.Data[i]*gain[i%3], 1)
		}
		out = append(out, c)
	}
	return out
}

// observe feeds imgs to mon as the server does: prepared, measured, run
// through the model in one batch.
func observe(m *train.Model, mon *drift.Monitor, imgs []*tensor.Tensor) {
	s := testSize
	x := tensor.New(len(imgs), s, s, 3)
	var prep []*tensor.Tensor
	for i, im := range imgs {
		p := m.Prepare(im)
		prep = append(prep, p)
		copy(x.Data[i*s*s*3:], p.Data)
	}
	logits, emb := drift.Embed(m.Net, x)
	probs := drift.Activate(logits, m.Info)
	for i, p := range prep {
		st := append(drift.ImageStats(p, m.Info.Mean, m.Info.Std), drift.Confidence(probs[i], false))
		mon.Observe(drift.Observation{Stats: st, Embedding: emb[i]})
	}
}

// The monitor stays quiet on held-out images of the training distribution
// and fires on the same images under a colour shift.
func TestMonitorQuietOnHeldOutFiresOnColourShift(t *testing.T) {
	m := testModel(t, t.TempDir())
	ref, err := drift.Build(m, seq(cells(t, "train", 300)), "test", "synthetic cells")
	if err != nil {
		t.Fatal(err)
	}
	held := cells(t, "test", 120)
	cases := []struct {
		name  string
		imgs  []*tensor.Tensor
		alert bool
		want  []string // features that must be flagged
	}{
		{"held-out", held, false, nil},
		{"bluer lamp", shifted(held, [3]float32{0.85, 0.95, 1.1}), true, []string{"mean_r"}},
		{"paler stain", shifted(held, [3]float32{1.08, 1.12, 1.08}), true, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			mon := drift.NewMonitor(ref, drift.Config{Window: 100, MinWindow: 50})
			observe(m, mon, c.imgs[:20])
			if r := mon.Report(); r.State != drift.StateWarmingUp {
				t.Fatalf("state %q after 20 images, want %q", r.State, drift.StateWarmingUp)
			}
			observe(m, mon, c.imgs[20:])
			r := mon.Report()
			if r.Window != 100 || r.Seen != len(c.imgs) {
				t.Errorf("window %d seen %d, want 100 and %d", r.Window, r.Seen, len(c.imgs))
			}
			if r.Alert != c.alert {
				t.Fatalf("alert %v, want %v; reasons %v", r.Alert, c.alert, r.Reasons)
			}
			want := map[bool]string{true: drift.StateAlert, false: drift.StateOK}[c.alert]
			if r.State != want {
				t.Errorf("state %q, want %q", r.State, want)
			}
			for _, name := range c.want {
				i := slices.IndexFunc(r.Features, func(s drift.Score) bool { return s.Name == name })
				if i < 0 || !r.Features[i].Drift {
					t.Errorf("feature %s not flagged: %+v", name, r.Features)
				}
			}
			if c.alert && !r.MMDDrift {
				t.Errorf("MMD p %.3g does not reject a colour shift", r.MMDPValue)
			}
			if !c.alert && r.MMDPValue < 0.05 {
				t.Errorf("MMD p %.3g on held-out images", r.MMDPValue)
			}
			t.Logf("%s: mmd2 %.4g p %.3g, reasons %v", c.name, r.MMD, r.MMDPValue, r.Reasons)
		})
	}
}

func TestKS(t *testing.T) {
	ref := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	cases := []struct {
		x        []float64
		d        float64
		pLo, pHi float64
	}{
		{[]float64{10, 1, 5, 3, 2, 4, 6, 7, 8, 9}, 0, 1, 1},
		{[]float64{11, 12, 13, 14, 15, 16, 17, 18, 19, 20}, 1, 0, 1e-3},
		{[]float64{6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, 0.5, 0.05, 0.3},
	}
	for _, c := range cases {
		d, p := drift.KS(ref, c.x)
		if d != c.d || p < c.pLo || p > c.pHi {
			t.Errorf("KS(%v) = %g, p %g; want D %g, p in [%g, %g]", c.x, d, p, c.d, c.pLo, c.pHi)
		}
	}
}

func TestPSI(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	ref := make([]float64, 1000)
	for i := range ref {
		ref[i] = rng.NormFloat64()
	}
	f := drift.NewFeature("x", ref)
	if len(f.Edges) != 9 || len(f.Shares) != 10 {
		t.Fatalf("%d edges, %d shares for 1000 values; want 9 and 10", len(f.Edges), len(f.Shares))
	}
	same, moved := make([]float64, 1000), make([]float64, 1000)
	for i := range same {
		same[i] = rng.NormFloat64()
		moved[i] = rng.NormFloat64() + 1
	}
	if p := drift.PSI(f.Edges, f.Shares, same); p > 0.05 {
		t.Errorf("PSI of the same distribution %.3f, want < 0.05", p)
	}
	if p := drift.PSI(f.Edges, f.Shares, moved); p < 0.25 {
		t.Errorf("PSI of a one-sigma shift %.3f, want > 0.25", p)
	}
}

func TestMMD(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 2))
	gauss := func(n int, shift float32) [][]float32 {
		out := make([][]float32, n)
		for i := range out {
			out[i] = make([]float32, 8)
			for j := range out[i] {
				out[i][j] = float32(rng.NormFloat64()) + shift
			}
		}
		return out
	}
	a := gauss(100, 0)
	if _, p := drift.MMD(a, gauss(60, 0), 16, 200, rng); p < 0.05 {
		t.Errorf("MMD p %.3g for samples of one distribution", p)
	}
	if _, p := drift.MMD(a, gauss(60, 0.7), 16, 200, rng); p > 0.01 {
		t.Errorf("MMD p %.3g for a shift of 0.7 sigma in 8 dimensions", p)
	}
}

func TestReferenceSaveLoadAndForRun(t *testing.T) {
	dir := t.TempDir()
	manifest, err := synth.Generate(filepath.Join(dir, "data"), synth.Config{N: 240, Size: testSize, Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	m := testModel(t, dir)
	m.Info.Config.Data = manifest
	b, _ := json.Marshal(m.Info)
	if err := os.WriteFile(filepath.Join(dir, train.RunFile), b, 0o644); err != nil {
		t.Fatal(err)
	}
	ref, built, err := drift.ForRun(m, "weights-1")
	if err != nil || !built {
		t.Fatalf("ForRun: built %v, %v", built, err)
	}
	if ref.Images != 24 || len(ref.Features) != len(drift.StatNames(3)) || len(ref.Embeddings) != 24 {
		t.Errorf("reference of %d images, %d features, %d embeddings; want 24 (the validation split), %d, 24",
			ref.Images, len(ref.Features), len(ref.Embeddings), len(drift.StatNames(3)))
	}
	again, built, err := drift.ForRun(m, "weights-1")
	if err != nil || built {
		t.Fatalf("second ForRun rebuilt (%v) or failed: %v", built, err)
	}
	if !slices.Equal(again.Features[0].Values, ref.Features[0].Values) || again.Scale != ref.Scale {
		t.Error("cached reference differs from the built one")
	}
	if _, built, _ := drift.ForRun(m, "weights-2"); !built {
		t.Error("new weights did not rebuild the reference")
	}
	m.Info.Temperature = 0.5 // calibrated since: the confidences change
	if r, built, _ := drift.ForRun(m, "weights-2"); !built || r.Temperature != 0.5 {
		t.Error("a new temperature did not rebuild the reference")
	}
	for _, bad := range []string{"", "{", `{"format":1,"channels":3,"features":[]}`, `{"format":99}`} {
		p := filepath.Join(dir, "bad.json")
		os.WriteFile(p, []byte(bad), 0o644)
		if _, err := drift.Load(p); err == nil {
			t.Errorf("Load(%q) gave no error", bad)
		}
	}
}

func TestImageStats(t *testing.T) {
	// A white background with a dark square of known colour.
	const s = 20
	x := tensor.New(s, s, 3)
	for i := 0; i < s*s; i++ {
		px := [3]float32{1, 1, 1}
		if i%s < 10 && i/s < 10 {
			px = [3]float32{0.5, 0.25, 1}
		}
		copy(x.Data[3*i:], px[:])
	}
	st := drift.ImageStats(x, nil, nil)
	names := drift.StatNames(3)
	get := func(n string) float64 { return st[slices.Index(names, n)] }
	if d := get("mean_r") - 0.875; d*d > 1e-6 {
		t.Errorf("mean_r %g, want 0.875", get("mean_r"))
	}
	if d := get("stained_fraction") - 0.25; d*d > 1e-6 {
		t.Errorf("stained_fraction %g, want 0.25", get("stained_fraction"))
	}
	if d := get("od_g") - 1.386; d*d > 1e-4 { // -ln(0.25)
		t.Errorf("od_g %g, want %g", get("od_g"), 1.386)
	}
	if get("od_b") != 0 {
		t.Errorf("od_b %g, want 0", get("od_b"))
	}
}
