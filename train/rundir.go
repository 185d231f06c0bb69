package train

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/deepscope/deepscope/data"
	"github.com/deepscope/deepscope/jsonl"
	"github.com/deepscope/deepscope/nn"
	"github.com/deepscope/deepscope/shift"
)

// Files of a run directory.
const (
	RunFile        = "run.json"               // RunInfo: config, classes, preprocessing
	CheckpointFile = "checkpoint.safetensors" // latest model, optimizer and loop state
	BestFile       = "best.safetensors"       // model weights at the best validation score
	MetricsFile    = "metrics.jsonl"          // one EpochLog per line
	EvalFile       = "eval.json"              // test metrics of the best model
	ReportFile     = "report.html"
	EventsDir      = "tb" // TensorBoard event files
)

// RunInfo is what a run directory says about how its model was made and
// how images must be prepared for it. eval, predict and serve read it.
type RunInfo struct {
	Config      Config    `json:"config"`
	Classes     []string  `json:"classes"`
	MultiLabel  bool      `json:"multi_label,omitempty"`
	Channels    int       `json:"channels"`
	Mean        []float32 `json:"mean"` // per-channel normalisation from training images
	Std         []float32 `json:"std"`
	Fingerprint string    `json:"data_fingerprint"` // SHA-256 of the index (path, label, split)
	Version     string    `json:"deepscope_version"`
	Threads     int       `json:"threads"`
	TrainImages int       `json:"train_images"`
	ValImages   int       `json:"val_images"`
	TestImages  int       `json:"test_images"`

	// Preparation is the stain normalisation and cell crop every image
	// gets before the crop and resize (nil: none), with its fitted target.
	Preparation *shift.Preparation `json:"preparation,omitempty"`

	// Temperature divides the logits before the softmax (or sigmoids),
	// fitted on the validation split when training ends (Calibrate); 0
	// means none (1).
	Temperature float64 `json:"temperature,omitempty"`
}

// Preprocess returns the fixed preparation images get for this run's model.
func (ri *RunInfo) Preprocess() data.Preprocess {
	p := data.Preprocess{Size: ri.Config.Size, Crop: ri.Config.Crop, Channels: ri.Channels}
	if ri.Preparation != nil {
		p.Prepare = ri.Preparation
	}
	return p
}

// Normalize returns the run's per-channel normalisation.
func (ri *RunInfo) Normalize() data.Normalize {
	return data.Normalize{Mean: ri.Mean, Std: ri.Std}
}

// ReadRunInfo reads dir/run.json.
func ReadRunInfo(dir string) (*RunInfo, error) {
	b, err := os.ReadFile(filepath.Join(dir, RunFile))
	if err != nil {
		return nil, fmt.Errorf("train: %s is not a run directory: %w", dir, err)
	}
	var ri RunInfo
	if err := json.Unmarshal(b, &ri); err != nil {
		return nil, fmt.Errorf("train: %s: %w", filepath.Join(dir, RunFile), err)
	}
	return &ri, nil
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return data.WriteFileAtomic(path, append(b, '\n'))
}

// fingerprint hashes a dataset's index: paths, labels and splits.
func fingerprint(ds *data.Dataset) string {
	h := sha256.New()
	for _, it := range ds.Items {
		fmt.Fprintf(h, "%s\t%d\t%v\t%s\n", it.Path, it.Label, it.Labels, it.Split)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// EpochLog is one line of metrics.jsonl.
type EpochLog struct {
	Epoch       int     `json:"epoch"` // 1-based
	Step        int     `json:"step"`
	LR          float64 `json:"lr"`
	TrainLoss   float64 `json:"train_loss"`
	ValLoss     float64 `json:"val_loss"`
	ValAccuracy float64 `json:"val_accuracy"`
	ValAUC      float64 `json:"val_auc"`
	Seconds     float64 `json:"seconds"`   // wall time of the epoch, validation included
	ImgPerSec   float64 `json:"img_per_s"` // training images per second
	Best        bool    `json:"best"`      // this epoch's model is the kept one
}

// ReadMetrics reads every EpochLog of a run.
func ReadMetrics(dir string) ([]EpochLog, error) {
	return jsonl.ReadFile[EpochLog](filepath.Join(dir, MetricsFile))
}

// writeMetrics rewrites metrics.jsonl with logs (atomically), so that a run
// resumed from a checkpoint drops the lines of epochs it will redo.
func writeMetrics(dir string, logs []EpochLog) error {
	return jsonl.WriteFile(filepath.Join(dir, MetricsFile), logs)
}

// loopState is where the loop stands; a checkpoint stores it as metadata.
type loopState struct {
	Epoch     int     `json:"epoch"` // 0-based epoch in progress
	Batch     int     `json:"batch"` // next batch within it
	Step      int     `json:"step"`  // optimizer steps taken
	LossSum   float64 `json:"loss_sum"`
	LossN     int     `json:"loss_n"`
	Best      float64 `json:"best"`       // best monitored score (higher is better)
	BestEpoch int     `json:"best_epoch"` // 1-based; 0: none yet
	Bad       int     `json:"bad"`        // epochs since the best
	Done      bool    `json:"done"`
	Elapsed   float64 `json:"elapsed"` // training seconds so far
	Images    int     `json:"images"`  // training images seen so far
}

// saveCheckpoint writes model, optimizer state (prefixed "optim.") and the
// loop state to dir/checkpoint.safetensors through a temporary file.
func saveCheckpoint(dir string, m nn.Module, opt interface{ State() []nn.NamedTensor }, st loopState) error {
	meta, err := json.Marshal(st)
	if err != nil {
		return err
	}
	sd := nn.StateDict(m)
	for _, t := range opt.State() {
		t.Name = "optim." + t.Name
		sd = append(sd, t)
	}
	return nn.WriteStateFile(filepath.Join(dir, CheckpointFile), sd, map[string]string{"loop": string(meta), "format": "deepscope-checkpoint-1"})
}

// loadCheckpoint restores what saveCheckpoint wrote.
func loadCheckpoint(dir string, m nn.Module, opt interface {
	LoadState([]nn.NamedTensor) error
}) (loopState, error) {
	path := filepath.Join(dir, CheckpointFile)
	sd, meta, err := nn.ReadStateFile(path)
	if err != nil {
		return loopState{}, err
	}
	var st loopState
	if err := json.Unmarshal([]byte(meta["loop"]), &st); err != nil {
		return st, fmt.Errorf("train: %s: bad loop state: %w", path, err)
	}
	var model, optState []nn.NamedTensor
	for _, t := range sd {
		if name, ok := strings.CutPrefix(t.Name, "optim."); ok {
			t.Name = name
			optState = append(optState, t)
		} else {
			model = append(model, t)
		}
	}
	if err := nn.LoadStateDict(m, model, true); err != nil {
		return st, fmt.Errorf("train: %s: %w", path, err)
	}
	if err := opt.LoadState(optState); err != nil {
		return st, fmt.Errorf("train: %s: %w", path, err)
	}
	return st, nil
}

// saveBest writes the model's weights to dir/best.safetensors.
func saveBest(dir string, m nn.Module, epoch int, score float64) error {
	return nn.SaveFile(m, filepath.Join(dir, BestFile), map[string]string{
		"epoch": strconv.Itoa(epoch), "score": strconv.FormatFloat(score, 'g', -1, 64)})
}
