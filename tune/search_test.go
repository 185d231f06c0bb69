package tune

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/deepscope/deepscope/jsonl"
	"github.com/deepscope/deepscope/synth"
	"github.com/deepscope/deepscope/tensor"
	"github.com/deepscope/deepscope/train"
)

// tinyData writes a small synthetic dataset once per test binary.
func tinyData(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(os.TempDir(), "deepscope-tune-test-data")
	manifest := filepath.Join(dir, synth.ManifestName)
	if _, err := os.Stat(manifest); err == nil {
		return manifest
	}
	m, err := synth.Generate(dir, synth.Config{N: 160, Size: 16, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func tinyBase(manifest string) train.Config {
	c := train.Defaults()
	c.Data, c.Size, c.Epochs, c.Batch, c.Seed, c.TTA = manifest, 16, 2, 16, 7, false
	c.WarmupEpochs, c.CheckpointEvery = 0, 2
	return c
}

func tinySpace(t *testing.T) Space {
	sp, err := ParseSpace([]byte(`{"lr": {"log": [1e-3, 1e-2]}, "dropout": {"uniform": [0, 0.3]}, "augment": {"choice": ["none", "light"]}}`))
	if err != nil {
		t.Fatal(err)
	}
	return sp
}

// lineWatch is a log writer that calls fn once, on the first line
// containing a string.
type lineWatch struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	on   string
	fn   func()
	done bool
}

func (w *lineWatch) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if !w.done && w.on != "" && bytes.Contains(p, []byte(w.on)) {
		w.done = true
		w.fn()
	}
	return len(p), nil
}

func TestSearchASHA(t *testing.T) {
	dir := t.TempDir()
	opt := Options{Strategy: "asha", Space: tinySpace(t), Base: tinyBase(tinyData(t)), Trials: 5, Parallel: 2,
		Threads: 2, Seed: 11, Metric: "loss", ASHA: ASHA{MinEpochs: 1, Eta: 2}, Baseline: true, Out: dir}
	res, err := Run(context.Background(), opt)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := Apply(opt.Base, res.Trials[0].Params); err != nil || !reflect.DeepEqual(got, opt.Base) {
		t.Errorf("trial 1, the baseline, has params %v", res.Trials[0].Params)
	}
	if res.Stopped != "trials" || len(res.Trials) != 5 {
		t.Fatalf("stopped by %q with %d trials", res.Stopped, len(res.Trials))
	}
	count := map[Status]int{}
	for _, tr := range res.Trials {
		count[tr.Status]++
		switch tr.Status {
		case Complete:
			if tr.Epochs != 2 || len(tr.Curve) != 2 {
				t.Errorf("complete trial %d: %d epochs, curve %v", tr.ID, tr.Epochs, tr.Curve)
			}
		case Pruned:
			if tr.Epochs != 1 {
				t.Errorf("pruned trial %d: %d epochs, want 1 (the only rung)", tr.ID, tr.Epochs)
			}
		default:
			t.Errorf("trial %d ended %s: %s", tr.ID, tr.Status, tr.Error)
		}
		if tr.Threads != 1 {
			t.Errorf("trial %d trained with %d threads, want 2/2", tr.ID, tr.Threads)
		}
	}
	if count[Complete] == 0 || count[Pruned] == 0 {
		t.Errorf("statuses %v: want some complete and some pruned", count)
	}
	// Every complete trial was among the best half at epoch 1 when it went on, so the
	// best epoch-1 value of all trials belongs to a complete trial.
	best1, bestID := math.Inf(1), 0
	for _, tr := range res.Trials {
		if tr.Curve[0] < best1 {
			best1, bestID = tr.Curve[0], tr.ID
		}
	}
	if res.Trials[bestID-1].Status != Complete {
		t.Errorf("trial %d, the best after one epoch, was %s", bestID, res.Trials[bestID-1].Status)
	}
	checkOutputs(t, dir, opt, res)
}

// checkOutputs checks trials.jsonl, best.json and leaderboard.html.
func checkOutputs(t *testing.T, dir string, opt Options, res *Result) {
	t.Helper()
	events, err := jsonl.ReadFile[Trial](filepath.Join(dir, TrialsFile))
	if err != nil {
		t.Fatal(err)
	}
	last := map[int]Trial{}
	for _, e := range events {
		last[e.ID] = e
	}
	for _, tr := range res.Trials {
		if got := last[tr.ID]; got.Status != tr.Status || got.Epochs != tr.Epochs {
			t.Errorf("trials.jsonl ends trial %d %s after %d epochs; the result says %s after %d", tr.ID, got.Status, got.Epochs, tr.Status, tr.Epochs)
		}
	}
	if res.Best == nil || res.Best.Status != Complete {
		t.Fatalf("best %+v, want a complete trial", res.Best)
	}
	for _, tr := range res.Trials {
		if tr.Status == Complete && score(opt.Metric, tr.Metric) > score(opt.Metric, res.Best.Metric) {
			t.Errorf("trial %d (%v) beats the best, trial %d (%v)", tr.ID, tr.Metric, res.Best.ID, res.Best.Metric)
		}
	}
	// best.json reads back as the config the best trial trained with.
	cfg, err := train.LoadConfig(filepath.Join(dir, BestFile))
	if err != nil {
		t.Fatal(err)
	}
	ri, err := train.ReadRunInfo(filepath.Join(dir, res.Best.Dir))
	if err != nil {
		t.Fatal(err)
	}
	ri.Config.Workers = opt.Base.Workers // the search's choice of decoding goroutines, not the trial's
	if !reflect.DeepEqual(cfg.WithDefaults(), ri.Config) {
		t.Errorf("best.json %+v\ndiffers from the trial's run.json %+v", cfg, ri.Config)
	}
	page, err := os.ReadFile(filepath.Join(dir, LeaderboardFile))
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(page, []byte("<polyline")); n != len(res.Trials) {
		t.Errorf("parallel coordinates draw %d lines for %d trials", n, len(res.Trials))
	}
	for _, want := range []string{"<svg", "val " + opt.Metric, "Best configuration", "lr"} {
		if !bytes.Contains(page, []byte(want)) {
			t.Errorf("leaderboard.html lacks %q", want)
		}
	}
	if bytes.Contains(page, []byte("http://")) && !bytes.Contains(page, []byte(`xmlns="http://www.w3.org/2000/svg"`)) {
		t.Error("leaderboard.html refers to the network")
	}
	dec := xml.NewDecoder(bytes.NewReader(page))
	dec.Strict, dec.AutoClose, dec.Entity = false, xml.HTMLAutoClose, xml.HTMLEntity
	for {
		if _, err := dec.Token(); err != nil {
			if err.Error() != "EOF" {
				t.Errorf("leaderboard.html does not parse: %v", err)
			}
			break
		}
	}
	var table bytes.Buffer
	if err := WriteTable(&table, opt.Space, opt.Metric, res.Trials); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(table.String()), "\n")
	if len(lines) != len(res.Trials)+1 || !strings.Contains(lines[1], " complete ") {
		t.Errorf("table:\n%s", table.String())
	}
}

// TestSearchResumeAfterCancel cancels a grid search as its first trial
// (1 epoch) ends, while the second (4 epochs) is mid-run, marks the second
// "running" in trials.jsonl as a killed process leaves it, resumes the
// search, and checks that the finished trial is kept and the other one
// continues from its checkpoint to where it would have ended uninterrupted.
func TestSearchResumeAfterCancel(t *testing.T) {
	manifest := tinyData(t)
	sp, err := ParseSpace([]byte(`{"epochs": {"choice": [1, 4]}, "lr": {"choice": [0.003]}}`))
	if err != nil {
		t.Fatal(err)
	}
	base := tinyBase(manifest)
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	watch := &lineWatch{on: "trial 1 complete", fn: cancel}
	opt := Options{Strategy: "grid", Space: sp, Base: base, Parallel: 2, Threads: 2, Out: dir, Log: watch}
	res, err := Run(ctx, opt)
	if !errors.Is(err, ErrInterrupted) || res.Stopped != "interrupted" {
		t.Fatalf("cancelled search: %v, stopped %q", err, res.Stopped)
	}
	if len(res.Trials) != 2 || res.Trials[0].Status != Complete || res.Trials[1].Status != Cancelled {
		t.Fatalf("after the cancel: %s", statuses(res.Trials))
	}
	// Make trial 2's last line say "running", as after a SIGKILL mid-trial.
	events, err := jsonl.ReadFile[Trial](filepath.Join(dir, TrialsFile))
	if err != nil {
		t.Fatal(err)
	}
	if last := &events[len(events)-1]; last.ID == 2 && last.Status == Cancelled {
		last.Status = Running
	} else {
		t.Fatalf("last line %+v, want trial 2 cancelled", *last)
	}
	if err := jsonl.WriteFile(filepath.Join(dir, TrialsFile), events); err != nil {
		t.Fatal(err)
	}
	if _, err := Run(context.Background(), Options{Out: dir, Budget: time.Hour}); err == nil {
		t.Error("a new search into a search directory was not refused")
	}
	var log bytes.Buffer
	res, err = Run(context.Background(), Options{Out: dir, Resume: true, Log: &log})
	if err != nil {
		t.Fatal(err)
	}
	if res.Stopped != "trials" || len(res.Trials) != 2 {
		t.Fatalf("resumed search stopped by %q with %d trials", res.Stopped, len(res.Trials))
	}
	for _, tr := range res.Trials {
		if tr.Status != Complete || tr.Epochs != tr.MaxEpochs {
			t.Errorf("trial %d: %s after %d of %d epochs", tr.ID, tr.Status, tr.Epochs, tr.MaxEpochs)
		}
	}
	if strings.Contains(log.String(), "trial 1 ") || !strings.Contains(log.String(), "trial 2 continues") {
		t.Errorf("resumed search log:\n%s", log.String())
	}
	trainLog, _ := os.ReadFile(filepath.Join(dir, "trial-002", "train.log"))
	if !bytes.Contains(trainLog, []byte("resuming")) {
		t.Error("trial 2 did not resume from its checkpoint")
	}
	// Trial 2 ends as it would have uninterrupted: the same threads, seed and batches.
	ref := t.TempDir()
	cfg, _ := Apply(base, res.Trials[1].Params)
	cfg.Workers = 1
	old := tensor.Threads()
	tensor.SetThreads(1) // as the trial had: 2 threads over 2 trials
	_, err = train.Run(context.Background(), cfg, train.Options{Out: ref})
	tensor.SetThreads(old)
	if err != nil {
		t.Fatal(err)
	}
	logs, err := train.ReadMetrics(ref)
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Trials[1].Curve; len(got) != 4 || got[3] != logs[3].ValAccuracy || logs[3].ValLoss != mustLast(t, filepath.Join(dir, "trial-002")).ValLoss {
		t.Errorf("resumed trial 2's curve %v; uninterrupted it ends at %+v", got, logs[3])
	}
	checkOutputs(t, dir, opt, res)
}

func mustLast(t *testing.T, dir string) train.EpochLog {
	t.Helper()
	logs, err := train.ReadMetrics(dir)
	if err != nil || len(logs) == 0 {
		t.Fatalf("%s: %d epochs logged, %v", dir, len(logs), err)
	}
	return logs[len(logs)-1]
}

func statuses(ts []Trial) string {
	var s []string
	for _, t := range ts {
		s = append(s, string(t.Status))
	}
	return strings.Join(s, ", ")
}

func TestSearchBudgetSpent(t *testing.T) {
	dir := t.TempDir()
	opt := Options{Strategy: "random", Space: tinySpace(t), Base: tinyBase(tinyData(t)), Budget: time.Nanosecond, Out: dir}
	res, err := Run(context.Background(), opt)
	if err != nil || res.Stopped != "budget" || len(res.Trials) != 0 {
		t.Fatalf("a spent budget: %v, stopped %q, %d trials", err, res.Stopped, len(res.Trials))
	}
	if _, err := os.Stat(filepath.Join(dir, LeaderboardFile)); err != nil {
		t.Error("no leaderboard for an empty search")
	}
}

func TestOptionsErrors(t *testing.T) {
	base := tinyBase("x.csv")
	sp := tinySpace(t)
	for _, c := range []struct {
		o    Options
		want string
	}{
		{Options{Strategy: "bayes", Space: sp, Base: base, Trials: 1}, `strategy "bayes"`},
		{Options{Strategy: "random", Space: sp, Base: base, Trials: 1, Metric: "f1"}, `metric "f1"`},
		{Options{Strategy: "random", Base: base, Trials: 1}, "space is empty"},
		{Options{Strategy: "random", Space: sp, Base: base}, "give a number of trials or a budget"},
		{Options{Strategy: "random", Space: sp, Base: train.Config{}, Trials: 1}, "no data"},
	} {
		c.o.Out = t.TempDir()
		_, err := Run(context.Background(), c.o)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: error %v, want %q", c.o, err, c.want)
		}
	}
	if _, err := Run(context.Background(), Options{Out: t.TempDir(), Resume: true}); err == nil || !strings.Contains(err.Error(), "not a search directory") {
		t.Errorf("resuming an empty directory: %v", err)
	}
}
