package fl

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"

	"github.com/deepscope/deepscope/data"
	"github.com/deepscope/deepscope/models"
	"github.com/deepscope/deepscope/nn"
	"github.com/deepscope/deepscope/train"
)

// Recipe is what a federated run trains and how: the model, the rounds,
// the clients' local training and the aggregation. The server and Simulate
// share it.
type Recipe struct {
	Model     string          `json:"model"` // a name from models.Names
	Size      int             `json:"size"`  // input side in pixels
	Crop      float64         `json:"crop"`  // centre fraction kept before resizing
	Rounds    int             `json:"rounds"`
	Local     LocalConfig     `json:"local"`
	Schedule  string          `json:"schedule"` // learning rate over the rounds: cosine or constant
	Aggregate AggregateConfig `json:"aggregate"`
	// Secure turns on secure aggregation by pairwise masking: the server
	// sees only the sum of the cohort's updates. It rules out the robust
	// methods and the norm check, which need the single updates.
	Secure bool   `json:"secure,omitempty"`
	Seed   uint64 `json:"seed"`
}

// DefaultRecipe returns CellNet at 28 px, 20 rounds of one local epoch,
// FedAvg.
func DefaultRecipe() Recipe {
	return Recipe{Model: "cellnet", Size: 28, Crop: 1, Rounds: 20, Local: DefaultLocal(), Schedule: "cosine",
		Aggregate: AggregateConfig{Method: FedAvg}, Seed: 1}
}

// withDefaults fills what the zero value leaves unset: FedProx's mu.
func (r Recipe) withDefaults() Recipe {
	if r.Aggregate.Method == "" {
		r.Aggregate.Method = FedAvg
	}
	if r.Aggregate.Method == FedProx && r.Local.Mu == 0 {
		r.Local.Mu = 0.01
	}
	if r.Schedule == "" {
		r.Schedule = "cosine"
	}
	if r.Crop == 0 {
		r.Crop = 1
	}
	return r
}

// Validate reports the first setting out of range.
func (r Recipe) Validate() error {
	if _, err := models.New(r.Model, rand.New(rand.NewPCG(0, 0)), models.Spec{Classes: 2, Size: r.Size}); err != nil {
		return err
	}
	switch {
	case r.Size < 8 || r.Size > 1024:
		return fmt.Errorf("fl: size %d: want 8 to 1024 pixels", r.Size)
	case !(r.Crop > 0 && r.Crop <= 1):
		return fmt.Errorf("fl: crop %g: want a fraction in (0, 1]", r.Crop)
	case r.Rounds < 1:
		return fmt.Errorf("fl: rounds %d: want at least 1", r.Rounds)
	case r.Schedule != "cosine" && r.Schedule != "constant":
		return fmt.Errorf("fl: schedule %q: want cosine or constant", r.Schedule)
	case r.Secure && (r.Aggregate.Method == Median || r.Aggregate.Method == Trimmed):
		return fmt.Errorf("fl: secure aggregation gives the server only the sum of the updates; %s needs each one", r.Aggregate.Method)
	}
	if err := r.Local.Validate(); err != nil {
		return err
	}
	return r.Aggregate.Validate()
}

// RoundLocal returns the local training of round (0-based): the learning
// rate follows the schedule (cosine: from LR at the first round to about
// zero at the last), and under secure aggregation with DP the clients clip
// their own updates, since the server cannot.
func (r Recipe) RoundLocal(round int) LocalConfig {
	lc := r.Local
	if r.Schedule == "cosine" && r.Rounds > 1 {
		lc.LR = r.Local.LR * 0.5 * (1 + math.Cos(math.Pi*float64(round)/float64(r.Rounds)))
	}
	if r.Secure && r.Aggregate.DP.Clip > 0 {
		lc.Clip = r.Aggregate.DP.Clip
	}
	return lc
}

// preprocess returns the fixed preparation of the recipe's inputs.
func (r Recipe) preprocess() data.Preprocess {
	return data.Preprocess{Size: r.Size, Crop: r.Crop, Channels: 3}
}

// newModel builds the recipe's network for the given classes, with weights
// drawn from the recipe's seed (the initial global model).
func (r Recipe) newModel(classes int) (nn.Module, error) {
	return models.New(r.Model, rand.New(rand.NewPCG(r.Seed, 0x91f1)), models.Spec{Classes: classes, InChannels: 3, Size: r.Size})
}

// RoundLog is one line of a federated run's rounds.jsonl.
type RoundLog struct {
	Round    int         `json:"round"` // 1-based, the round just aggregated
	Clients  int         `json:"clients"`
	Samples  int         `json:"samples"`
	Rejected []Rejection `json:"rejected,omitempty"`
	// TrainLoss is the clients' mean local training loss (sample-weighted).
	TrainLoss float64 `json:"train_loss"`
	LR        float64 `json:"lr"`
	// ValAccuracy is the new global model's validation accuracy where the
	// run can measure it (Simulate); on a server, ClientValAccuracy is the
	// accuracy that the round's starting model had on the clients' own
	// validation images.
	ValAccuracy       float64 `json:"val_accuracy,omitempty"`
	ClientValAccuracy float64 `json:"client_val_accuracy,omitempty"`
	Seconds           float64 `json:"seconds"`
}

// Files of a federated run directory, beside train's run.json and
// best.safetensors (the latest global model), which make it a run that
// deepscope eval, predict and serve read.
const (
	StateFile  = "fl_state.safetensors" // global model, round and server state, written atomically
	RoundsFile = "rounds.jsonl"         // one RoundLog per aggregated round
)

// runInfo describes a federated model as a train run, so the train, eval
// and serve tooling can load it.
func (r Recipe) runInfo(dataPath string, classes []string, mean, std []float32, version string) *train.RunInfo {
	cfg := train.Defaults()
	cfg.Data, cfg.Model, cfg.Size, cfg.Crop, cfg.Seed = dataPath, r.Model, r.Size, r.Crop, r.Seed
	cfg.Epochs, cfg.Batch, cfg.Optimizer, cfg.LR = r.Rounds*r.Local.Epochs, r.Local.Batch, r.Local.Optimizer, r.Local.LR
	cfg.WeightDecay, cfg.Augment, cfg.LabelSmoothing, cfg.Schedule, cfg.WarmupEpochs = r.Local.WeightDecay, r.Local.Augment, r.Local.LabelSmoothing, r.Schedule, 0
	cfg.TTA = false
	return &train.RunInfo{Config: cfg, Classes: classes, Channels: 3, Mean: mean, Std: std, Version: version}
}

// writeRunFiles writes run.json and best.safetensors (the global model) to
// dir, each atomically.
func writeRunFiles(dir string, info *train.RunInfo, net nn.Module, round int) error {
	b, err := json.MarshalIndent(info, "", "  ")
	if err != nil {
		return err
	}
	if err := data.WriteFileAtomic(filepath.Join(dir, train.RunFile), append(b, '\n')); err != nil {
		return err
	}
	return nn.SaveFile(net, filepath.Join(dir, train.BestFile), map[string]string{"round": fmt.Sprint(round)})
}

// writeRounds rewrites dir/rounds.jsonl with logs, atomically: the server
// keeps its history in its state file and rewrites this from it, so the
// log never holds a round the state does not.
func writeRounds(dir string, logs []RoundLog) error {
	var buf bytes.Buffer
	for _, l := range logs {
		b, err := json.Marshal(l)
		if err != nil {
			return err
		}
		buf.Write(append(b, '\n'))
	}
	return data.WriteFileAtomic(filepath.Join(dir, RoundsFile), buf.Bytes())
}
