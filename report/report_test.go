package report

import (
	"bytes"
	"encoding/xml"
	"flag"
	"html/template"
	"image"
	"image/color"
	"image/png"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/deepscope/deepscope/metrics"
)

var out = flag.String("out", "", "also write the sample report to this file, to look at it")

var bloodCells = []string{"basophil", "eosinophil", "erythroblast", "immature granulocyte",
	"lymphocyte", "monocyte", "neutrophil", "platelet"}

// confusable lists, per class, the classes a blood-cell model mixes it up with.
var confusable = [][]int{0: {3}, 1: {6}, 2: {4, 7}, 3: {5, 6, 6}, 4: {5, 2}, 5: {4, 3}, 6: {3, 1}, 7: {2}}

// fakeResult evaluates made-up predictions shaped like a good blood-cell
// classifier: mostly right, with immature granulocytes confused with
// monocytes and neutrophils.
func fakeResult(t testing.TB) (*metrics.Result, []int, [][]float64) {
	t.Helper()
	rng := rand.New(rand.NewPCG(42, 1))
	support := []int{244, 624, 311, 579, 243, 284, 666, 470}
	var labels []int
	var probs [][]float64
	for y, n := range support {
		for range n {
			z := make([]float64, len(support))
			for c := range z {
				z[c] = rng.NormFloat64()
			}
			z[y] += 7.4
			for _, c := range confusable[y] {
				z[c] += 2.6 + 0.9*rng.NormFloat64()
			}
			var s float64
			for c := range z {
				z[c] = math.Exp(z[c])
				s += z[c]
			}
			for c := range z {
				z[c] /= s
			}
			labels = append(labels, y)
			probs = append(probs, z)
		}
	}
	r, err := metrics.Evaluate(labels, probs, bloodCells, metrics.Options{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	return r, labels, probs
}

// cellImage draws a blood-smear-like picture: a pale pink field, red cells
// and one stained nucleus.
func cellImage(seed uint64, size int) []byte {
	rng := rand.New(rand.NewPCG(seed, 3))
	img := image.NewRGBA(image.Rect(0, 0, size, size))
	type blob struct {
		x, y, r float64
		c       color.RGBA
	}
	var blobs []blob
	for range 5 {
		blobs = append(blobs, blob{rng.Float64() * float64(size), rng.Float64() * float64(size), float64(size) * (0.12 + 0.05*rng.Float64()), color.RGBA{222, 150, 160, 255}})
	}
	s := float64(size)
	blobs = append(blobs, blob{s / 2, s / 2, s * 0.3, color.RGBA{200, 170, 210, 255}},
		blob{s/2 + s*0.04*rng.NormFloat64(), s/2 + s*0.04*rng.NormFloat64(), s * (0.14 + 0.06*rng.Float64()), color.RGBA{92, 50, 140, 255}})
	for y := range size {
		for x := range size {
			c := color.RGBA{240, 222, 220, 255}
			for _, b := range blobs {
				if math.Hypot(float64(x)-b.x, float64(y)-b.y) < b.r {
					c = b.c
				}
			}
			img.Set(x, y, c)
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

func fakePage(t testing.TB) *Page {
	r, labels, probs := fakeResult(t)
	p := &Page{
		Title: "White blood cell classifier: test report",
		Dataset: Dataset{
			Name:     "PBC",
			Citation: "Acevedo A, Merino A, Alférez S, et al. A dataset of microscopic peripheral blood cell images for development of automatic recognition systems. Data in Brief 30 (2020) 105474.",
			Split:    "test", Train: 11959, Val: 1712,
		},
		Run: Run{Model: "compact CNN (1.2 M parameters)", InputSize: 64, Epochs: 30, BestEpoch: 27,
			WallTime: 27*time.Minute + 41*time.Second, ImagesPerSec: 241.6, Device: "CPU, 2 threads (AMD EPYC, AVX2)", Version: "0.1.0"},
		Test:      r,
		Generated: time.Date(2025, 3, 14, 9, 30, 0, 0, time.UTC),
		Config: map[string]any{"model": "compact", "size": 64, "epochs": 30, "lr": 0.003, "seed": 1,
			"augment": []string{"flip", "rot90", "color-jitter"}, "data": "/data/pbc"},
	}
	for e := 1; e <= 30; e++ {
		x := float64(e)
		p.Epochs = append(p.Epochs, Epoch{Epoch: e,
			TrainLoss: 0.12 + 1.6*math.Exp(-x/4), ValLoss: 0.15 + 1.3*math.Exp(-x/4.5) + 0.01*math.Sin(x),
			ValAccuracy: 0.975 - 0.5*math.Exp(-x/3.5), ValAUC: 0.999 - 0.2*math.Exp(-x/2.5),
			LR: 0.003 * 0.5 * (1 + math.Cos(math.Pi*(x-1)/30))})
	}
	type miss struct {
		i    int
		conf float64
	}
	var ms []miss
	for i, row := range probs {
		best := 0
		for c := range row {
			if row[c] > row[best] {
				best = c
			}
		}
		if best != labels[i] {
			ms = append(ms, miss{i, row[best]})
		}
	}
	for k := range ms {
		for j := k + 1; j < len(ms); j++ {
			if ms[j].conf > ms[k].conf {
				ms[k], ms[j] = ms[j], ms[k]
			}
		}
	}
	for k, m := range ms[:min(12, len(ms))] {
		row := probs[m.i]
		best := 0
		for c := range row {
			if row[c] > row[best] {
				best = c
			}
		}
		size := 64
		if k%4 == 3 {
			size = 28
		}
		p.Mistakes = append(p.Mistakes, Example{Image: cellImage(uint64(k), size),
			Path:      "test/" + bloodCells[labels[m.i]] + "/" + bloodCells[labels[m.i]][:2] + "_" + string(rune('A'+k)) + "4821.jpg",
			True:      bloodCells[labels[m.i]],
			Predicted: bloodCells[best], Confidence: m.conf})
	}
	return p
}

// render writes the page and checks it parses as XML; it returns the text.
func render(t *testing.T, p *Page) string {
	t.Helper()
	var buf bytes.Buffer
	if err := Write(&buf, p); err != nil {
		t.Fatal(err)
	}
	d := xml.NewDecoder(bytes.NewReader(buf.Bytes()))
	d.Strict = true
	d.Entity = xml.HTMLEntity
	for {
		_, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			line := strings.Split(buf.String(), "\n")
			ln, _ := d.InputPos()
			t.Fatalf("page is not well-formed: %v\nline %d: %.300s", err, ln, line[max(ln-1, 0)])
		}
	}
	return buf.String()
}

func TestWrite(t *testing.T) {
	p := fakePage(t)
	p.Explanations = []Figure{{Image: cellImage(99, 96), Caption: "Grad-CAM, neutrophil, 99.2%"}}
	p.Sections = []Section{{Title: "Fairness audit", Body: Table([]string{"group", "accuracy"}, [][]string{{"scanner A", "97.9%"}, {"scanner B", "96.8%"}})}}
	p.Run.Temperature = 0.62
	page := render(t, p)
	if *out != "" {
		if err := WriteFile(*out, p); err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range []string{
		`id="summary"`, `id="classes"`, `id="confusion"`, `id="roc"`, `id="calibration"`,
		`id="mistakes"`, `id="explanations"`, `id="extra-0"`, `id="training"`, `id="config"`,
		"Accuracy", "95% CI", "3,421 images of the test split of PBC", "Weakest class: immature granulocyte",
		"Most frequent mistake: immature granulocyte called", "data:image/png;base64,", `class="px"`,
		"Grad-CAM, neutrophil", "scanner B", "Kept checkpoint", "epoch 27", "27 min 41 s", "&#34;lr&#34;: 0.003",
		"Acevedo A", "1,000 bootstrap resamples", "top-left corner enlarged", "Where the errors are",
		"divided by T = 0.62", "the raw model was under-confident",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	for _, bad := range []string{"ZgotmplZ", "<script", "NaN", "src=\"http", "href=\"http", "%!"} {
		if strings.Contains(page, bad) {
			i := strings.Index(page, bad)
			t.Errorf("page contains %q: …%s…", bad, page[max(0, i-80):min(len(page), i+80)])
		}
	}
	if n := strings.Count(page, "<svg"); n < 9 {
		t.Errorf("%d SVG charts, want at least 9 (3 curves, confusion, 2 ROC, reliability, legend, bars)", n)
	}
	if n := strings.Count(page, `class="tile"`); n != 13 {
		t.Errorf("%d gallery tiles, want 13 (12 mistakes and 1 explanation)", n)
	}
}

// TestWriteSparse: a page with only test results and no intervals renders,
// leaving out the parts it has no data for.
func TestWriteSparse(t *testing.T) {
	r, err := metrics.Evaluate([]int{0, 1, 1, 0}, [][]float64{{0.9, 0.1}, {0.2, 0.8}, {0.6, 0.4}, {0.7, 0.3}}, nil,
		metrics.Options{Resamples: -1, ROCPoints: -1})
	if err != nil {
		t.Fatal(err)
	}
	page := render(t, &Page{Title: "t", Test: r})
	for _, absent := range []string{`id="roc"`, `id="mistakes"`, `id="config"`, "95% CI", `id="training"`, "temperature-scaled"} {
		if strings.Contains(page, absent) {
			t.Errorf("sparse page has %q", absent)
		}
	}
	if !strings.Contains(page, "Tested on 4 images, 2 classes. 3 classified right, 1 wrong.") {
		t.Error("sparse page lacks the summary sentence")
	}
}

func TestWriteMultiLabel(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	names := []string{"atelectasis", "cardiomegaly", "effusion", "infiltration", "mass"}
	var labels [][]bool
	var probs [][]float64
	for range 600 {
		l := make([]bool, len(names))
		q := make([]float64, len(names))
		for c := range names {
			l[c] = rng.Float64() < 0.15
			z := rng.NormFloat64() - 1.5
			if l[c] {
				z += 2
			}
			q[c] = 1 / (1 + math.Exp(-z))
		}
		labels, probs = append(labels, l), append(probs, q)
	}
	r, err := metrics.EvaluateMultiLabel(labels, probs, names, metrics.Options{Resamples: 100})
	if err != nil {
		t.Fatal(err)
	}
	p := &Page{Title: "ChestMNIST", Dataset: Dataset{Name: "ChestMNIST"}, Test: r}
	page := render(t, p)
	if *out != "" {
		if err := WriteFile(strings.TrimSuffix(*out, ".html")+"-multilabel.html", p); err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range []string{"Macro AUC", "Exact match", "Hamming loss", "Hardest label", `id="roc"`, "Per label"} {
		if !strings.Contains(page, want) {
			t.Errorf("multi-label page lacks %q", want)
		}
	}
	for _, absent := range []string{`id="confusion"`, `id="calibration"`, `id="training"`, "enlarged"} {
		if strings.Contains(page, absent) {
			t.Errorf("multi-label page (weak model, no run facts) has %q", absent)
		}
	}
}

// TestEscaping: names and paths from the data cannot inject markup.
func TestEscaping(t *testing.T) {
	r, err := metrics.Evaluate([]int{0, 1}, [][]float64{{0.9, 0.1}, {0.2, 0.8}}, []string{"<b>x</b>", `a"&b`}, metrics.Options{Resamples: 10})
	if err != nil {
		t.Fatal(err)
	}
	p := &Page{Title: "<script>alert(1)</script>", Test: r, Config: map[string]string{"k": "</pre><i>"},
		Mistakes: []Example{{Image: []byte("not an image"), Path: "<img src=x>", True: "<b>x</b>", Predicted: `a"&b`, Confidence: 0.9}}}
	page := render(t, p)
	for _, bad := range []string{"<script>", "<b>x</b>", "<img src=x>", "</pre><i>"} {
		if strings.Contains(page, bad) {
			t.Errorf("page contains unescaped %q", bad)
		}
	}
	if !strings.Contains(page, "no image") {
		t.Error("bytes that are not an image should show a placeholder")
	}
}

func TestWriteErrors(t *testing.T) {
	if err := Write(io.Discard, &Page{Title: "x"}); err == nil {
		t.Error("page without results: no error")
	}
	r, _ := metrics.Evaluate([]int{0, 1}, [][]float64{{0.9, 0.1}, {0.2, 0.8}}, nil, metrics.Options{Resamples: -1})
	if err := Write(io.Discard, &Page{Test: r, Config: map[string]any{"f": func() {}}}); err == nil {
		t.Error("config that cannot be JSON: no error")
	}
	dir := t.TempDir()
	if err := WriteFile(filepath.Join(dir, "missing", "r.html"), &Page{Test: r}); err == nil {
		t.Error("WriteFile into a missing folder: no error")
	}
	path := filepath.Join(dir, "r.html")
	if err := WriteFile(path, &Page{Test: r}); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(path, &Page{Title: "no results"}); err == nil {
		t.Error("WriteFile of a page without results: no error")
	}
	b, err := os.ReadFile(path)
	if err != nil || !bytes.Contains(b, []byte("</html>")) {
		t.Errorf("a failed WriteFile must leave the earlier report whole: %v", err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("temporary files left behind: %v", entries)
	}
}

func TestTable(t *testing.T) {
	h := Table([]string{"group", "n"}, [][]string{{"<a>", "3"}})
	want := template.HTML(`<table><thead><tr><th>group</th><th>n</th></tr></thead><tbody><tr><td>&lt;a&gt;</td><td>3</td></tr></tbody></table>`)
	if h != want {
		t.Errorf("Table = %s\nwant   %s", h, want)
	}
}

func TestNiceTicks(t *testing.T) {
	for _, c := range []struct {
		lo, hi   float64
		n        int
		want     []float64
		min, max float64
	}{
		{0, 1, 5, []float64{0, 0.2, 0.4, 0.6, 0.8, 1}, 0, 1},
		{0.12, 1.7, 4, []float64{0, 0.5, 1, 1.5, 2}, 0, 2},
		{1, 30, 5, []float64{0, 10, 20, 30}, 0, 30},
		{0.905, 0.999, 4, []float64{0.9, 0.925, 0.95, 0.975, 1}, 0.9, 1},
		{3, 3, 4, []float64{2.5, 2.75, 3, 3.25, 3.5}, 2.5, 3.5},
	} {
		got, lo, hi := niceTicks(c.lo, c.hi, c.n)
		if len(got) != len(c.want) || lo != c.min || hi != c.max {
			t.Errorf("niceTicks(%v, %v) = %v [%v, %v], want %v", c.lo, c.hi, got, lo, hi, c.want)
			continue
		}
		for i := range got {
			if math.Abs(got[i]-c.want[i]) > 1e-12 {
				t.Errorf("niceTicks(%v, %v) = %v, want %v", c.lo, c.hi, got, c.want)
				break
			}
		}
	}
}

func TestFormat(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{count(3419), "3,419"}, {count(999), "999"}, {count(1234567), "1,234,567"}, {count(-1200), "-1,200"},
		{pct(0.97543), "97.5%"}, {pct(math.NaN()), "\u2013"},
		{pctRange(metrics.Interval{0.97, 0.981}), "97.0\u201398.1%"},
		{duration(27*time.Minute + 41*time.Second), "27 min 41 s"}, {duration(75 * time.Minute), "1 h 15 min"},
		{tickLabel(0.925, 0.025), "0.925"}, {tickLabel(20, 10), "20"}, {tickLabel(0.0005, 0.0005), "5e-4"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}
