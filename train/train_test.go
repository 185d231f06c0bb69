package train

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/deepscope/deepscope/nn"
	"github.com/deepscope/deepscope/synth"
	"github.com/deepscope/deepscope/tensor"
)

// tinyData writes a small synthetic dataset once per test binary.
func tinyData(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(os.TempDir(), "deepscope-train-test-data")
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

func tinyConfig(manifest string) Config {
	c := Defaults()
	c.Data, c.Size, c.Epochs, c.Batch, c.LR = manifest, 16, 2, 16, 3e-3
	c.Dropout, c.CheckpointEvery, c.Seed, c.TTA = 0.2, 2, 7, false
	return c
}

// TestMain lets a test start this binary as a training child process,
// which the parent then kills with SIGKILL.
func TestMain(m *testing.M) {
	if out := os.Getenv("DEEPSCOPE_TRAIN_CHILD"); out != "" {
		cfg := tinyConfig(os.Getenv("DEEPSCOPE_TRAIN_DATA"))
		cfg.Epochs = 3
		// Slow the steps down so the parent can kill the run mid-epoch.
		slow := func(int) { time.Sleep(40 * time.Millisecond) }
		if _, err := Run(context.Background(), cfg, Options{Out: out, StepHook: slow}); err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestRunWritesRunDirectory(t *testing.T) {
	out := t.TempDir()
	sum, err := Run(context.Background(), tinyConfig(tinyData(t)), Options{Out: out})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Epochs != 2 || sum.BestEpoch < 1 || sum.Stopped != "epochs" {
		t.Errorf("summary %+v", sum)
	}
	for _, f := range []string{RunFile, CheckpointFile, BestFile, MetricsFile} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("run directory lacks %s", f)
		}
	}
	logs, err := ReadMetrics(out)
	if err != nil || len(logs) != 2 {
		t.Fatalf("metrics: %v, %d lines", err, len(logs))
	}
	if logs[1].TrainLoss >= logs[0].TrainLoss {
		t.Errorf("training loss did not fall: %v then %v", logs[0].TrainLoss, logs[1].TrainLoss)
	}
	events, _ := filepath.Glob(filepath.Join(out, EventsDir, "events.out.tfevents.*"))
	if len(events) == 0 {
		t.Error("no TensorBoard event file")
	}
	info, err := ReadRunInfo(out)
	if err != nil || len(info.Mean) != 3 || info.Fingerprint == "" {
		t.Fatalf("run info %+v, %v", info, err)
	}
	if _, err := Run(context.Background(), tinyConfig(tinyData(t)), Options{Out: out}); err == nil {
		t.Error("a second run into the same directory was not refused")
	}
	m, err := Load(out)
	if err != nil {
		t.Fatal(err)
	}
	img := tensor.Full(0.5, 40, 30, 3) // any size: Prepare crops and resizes
	probs := m.Predict([]*tensor.Tensor{img, img}, true)
	if len(probs) != 2 || len(probs[0]) != len(info.Classes) {
		t.Fatalf("Predict gave %d rows", len(probs))
	}
	var total float64
	for _, p := range probs[0] {
		total += p
	}
	if math.Abs(total-1) > 1e-4 || probs[0][0] != probs[1][0] {
		t.Errorf("probabilities %v do not sum to 1 or differ for the same image", probs[0])
	}
}

// TestResumeIsExact interrupts runs at several steps (mid-epoch, on a
// checkpoint, at an epoch's end), resumes each, and checks that the final
// model and optimizer state equal those of an uninterrupted run bit for bit.
func TestResumeIsExact(t *testing.T) {
	manifest := tinyData(t)
	ref := t.TempDir()
	if _, err := Run(context.Background(), tinyConfig(manifest), Options{Out: ref}); err != nil {
		t.Fatal(err)
	}
	for _, stop := range []int{3, 4, 7} { // 7 steps per epoch: 3 is mid-epoch, 4 on a checkpoint, 7 the epoch's end
		out := t.TempDir()
		_, err := Run(context.Background(), tinyConfig(manifest), Options{Out: out, StopAfterSteps: stop})
		if !errors.Is(err, ErrInterrupted) {
			t.Fatalf("stop after %d: %v", stop, err)
		}
		if _, err := Run(context.Background(), Config{}, Options{Out: out, Resume: true}); err != nil {
			t.Fatalf("resume after %d: %v", stop, err)
		}
		same, err := sameTensors(filepath.Join(ref, CheckpointFile), filepath.Join(out, CheckpointFile))
		if err != nil || !same {
			t.Errorf("stopped after step %d and resumed: final state differs from the uninterrupted run (%v)", stop, err)
		}
	}
}

// TestPauseAtEpochThenResume pauses a run through Options.EpochHook after
// its first epoch, resumes it, and checks that it ends where an
// uninterrupted run does: what a search that promotes trials relies on.
func TestPauseAtEpochThenResume(t *testing.T) {
	manifest := tinyData(t)
	ref := t.TempDir()
	if _, err := Run(context.Background(), tinyConfig(manifest), Options{Out: ref}); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	var seen []int
	sum, err := Run(context.Background(), tinyConfig(manifest), Options{Out: out, EpochHook: func(l EpochLog) bool {
		seen = append(seen, l.Epoch)
		return l.Epoch == 1
	}})
	if err != nil || sum.Stopped != "paused" || sum.Epochs != 1 || len(seen) != 1 {
		t.Fatalf("paused run: summary %+v, hook saw epochs %v, err %v", sum, seen, err)
	}
	sum, err = Run(context.Background(), Config{}, Options{Out: out, Resume: true})
	if err != nil || sum.Stopped != "epochs" {
		t.Fatalf("resumed run: summary %+v, err %v", sum, err)
	}
	same, err := sameTensors(filepath.Join(ref, CheckpointFile), filepath.Join(out, CheckpointFile))
	if err != nil || !same {
		t.Errorf("paused after epoch 1 and resumed: final state differs from the uninterrupted run (%v)", err)
	}
}

// TestResumeAfterSIGKILL kills a training process with SIGKILL mid-epoch,
// resumes its run, and compares with an uninterrupted run.
func TestResumeAfterSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	manifest := tinyData(t)
	out := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "DEEPSCOPE_TRAIN_CHILD="+out, "DEEPSCOPE_TRAIN_DATA="+manifest)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	// Wait for a mid-epoch checkpoint of the second epoch, then kill.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		select {
		case err := <-exited:
			t.Fatalf("the child ended before it was killed: %v", err)
		default:
		}
		if st, err := readLoop(filepath.Join(out, CheckpointFile)); err == nil && st.Epoch >= 1 && st.Batch > 0 {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("the child wrote no mid-epoch checkpoint in time")
		}
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(60 * time.Millisecond) // let it get past the checkpoint
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-exited
	st, err := readLoop(filepath.Join(out, CheckpointFile))
	if err != nil {
		t.Fatalf("checkpoint unreadable after SIGKILL: %v", err)
	}
	if st.Done || st.Epoch >= 3 {
		t.Fatal("the child finished before it was killed")
	}
	if _, err := Run(context.Background(), Config{}, Options{Out: out, Resume: true}); err != nil {
		t.Fatal(err)
	}
	ref := t.TempDir()
	cfg := tinyConfig(manifest)
	cfg.Epochs = 3
	if _, err := Run(context.Background(), cfg, Options{Out: ref}); err != nil {
		t.Fatal(err)
	}
	same, err := sameTensors(filepath.Join(ref, CheckpointFile), filepath.Join(out, CheckpointFile))
	if err != nil {
		t.Fatal(err)
	}
	if !same {
		t.Errorf("killed at epoch %d batch %d and resumed: the final state differs from an uninterrupted run", st.Epoch+1, st.Batch)
	}
}

func readLoop(path string) (loopState, error) {
	_, meta, err := nn.ReadStateFile(path)
	if err != nil {
		return loopState{}, err
	}
	var st loopState
	err = json.Unmarshal([]byte(meta["loop"]), &st)
	return st, err
}

// sameTensors reports whether two checkpoint files hold the same tensors,
// bit for bit.
func sameTensors(a, b string) (bool, error) {
	ta, _, err := nn.ReadStateFile(a)
	if err != nil {
		return false, err
	}
	tb, _, err := nn.ReadStateFile(b)
	if err != nil {
		return false, err
	}
	if len(ta) != len(tb) {
		return false, nil
	}
	byName := map[string][]float32{}
	for _, t := range tb {
		byName[t.Name] = t.Value.Values()
	}
	for _, t := range ta {
		o, ok := byName[t.Name]
		v := t.Value.Values()
		if !ok || len(o) != len(v) {
			return false, nil
		}
		for i := range v {
			if o[i] != v[i] {
				return false, nil
			}
		}
	}
	return true, nil
}
