// Package train runs deepscope's training loop and owns the run directory:
// the full configuration, checkpoints of the model and optimizer
// (safetensors), metrics per epoch (JSON lines), TensorBoard event files and
// the data every later step (eval, predict, serve) needs to preprocess
// images exactly as training did.
//
// A run can be killed at any moment and resumed: checkpoints are written to
// a temporary file and renamed, and they hold the epoch, the batch within
// it and the step, so that a resumed run draws the same batches, the same
// augmentations and the same dropout masks and ends with the same weights,
// bit for bit, as one never interrupted (same seed, same thread count).
//
// When a run ends, its softmax temperature is fitted on the validation
// split (Calibrate) and kept in run.json, so that the probabilities eval,
// predict and serve report are calibrated. (Perturbation explanations still
// explain the uncalibrated softmax.)
package train

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/deepscope/deepscope/models"
	"github.com/deepscope/deepscope/shift"
)

// Config is everything a run is made of. Start from Defaults and change
// what you need: WithDefaults fills only the fields whose zero value is
// never meaningful (model, size, epochs, batch, learning rate, ...), while
// a zero weight decay, label smoothing, warm-up or dropout is taken as
// asked. The run directory stores the complete config, so a run can be
// reproduced from it alone.
type Config struct {
	Data  string  `json:"data"`            // dataset: folder, manifest CSV or MedMNIST .npz
	Split string  `json:"split,omitempty"` // manifest whose split column to use instead of Data's
	Model string  `json:"model"`           // a name from models.Names
	Size  int     `json:"size"`            // input side in pixels
	Crop  float64 `json:"crop"`            // centre fraction kept before resizing (1: whole image)

	Epochs         int     `json:"epochs"`
	Batch          int     `json:"batch"`
	Optimizer      string  `json:"optimizer"` // adamw, adam or sgd
	LR             float64 `json:"lr"`        // peak learning rate
	WeightDecay    float64 `json:"weight_decay"`
	Momentum       float64 `json:"momentum,omitempty"` // sgd only
	Schedule       string  `json:"schedule"`           // cosine, onecycle, step or constant
	WarmupEpochs   float64 `json:"warmup_epochs"`
	LabelSmoothing float64 `json:"label_smoothing"`
	Dropout        float64 `json:"dropout"`
	ClipNorm       float64 `json:"clip_norm,omitempty"` // 0: no clipping
	Augment        string  `json:"augment"`             // none, light, standard or strong

	Monitor  string `json:"monitor"`  // validation metric for best checkpoint and early stopping: auc, accuracy or loss
	Patience int    `json:"patience"` // epochs without improvement before stopping; 0: never stop early
	TTA      bool   `json:"tta"`      // average predictions over the 8 flips and rotations at evaluation

	// BalanceBy names a manifest column (site, scanner, ...) whose groups
	// should count equally in the training loss: each image's loss term is
	// multiplied by its group's weight (see GroupWeights and groupBalance
	// for how this combines with label smoothing). "" trains unweighted.
	BalanceBy string `json:"balance_by,omitempty"`
	// GroupWeights holds the weight of each BalanceBy group. train computes
	// it from the training split when a run starts (a value given is
	// replaced) and stores it here, so run.json shows the weights used and
	// a resumed run reuses them.
	GroupWeights map[string]float64 `json:"group_weights,omitempty"`

	// StainNorm normalises every image's stain to a target fitted on
	// training images: "reinhard", "macenko" or "" (none). CellCrop, when
	// not 0, crops each image around its cell's nucleus, CellCrop nucleus
	// diameters wide, so that magnification stops mattering (use it with
	// Crop 1). Both are stored in run.json and applied in evaluation,
	// prediction and serving too; see package shift.
	StainNorm string  `json:"stain_norm,omitempty"`
	CellCrop  float64 `json:"cell_crop,omitempty"`

	Seed            uint64 `json:"seed"`
	Workers         int    `json:"workers,omitempty"`          // image decoding goroutines (0: one per core)
	CheckpointEvery int    `json:"checkpoint_every,omitempty"` // steps between mid-epoch checkpoints (0: epoch ends only)
	// Device runs the training steps and validation on "cpu" ("" too) or
	// "cuda", the first NVIDIA GPU (ResNet-family models with batch norm;
	// see package cuda). The data pipeline stays on the CPU and the run
	// directory is the same either way; a resumed run takes the device
	// given when resuming, if any.
	Device string `json:"device,omitempty"`

	// Differentially private training (DP-SGD, see dp.go): Poisson-sampled
	// batches, per-image clipping to MaxGradNorm, Gaussian noise of
	// NoiseMultiplier·MaxGradNorm, chosen for TargetEpsilon at Delta when
	// NoiseMultiplier is 0.
	DP              bool    `json:"dp,omitempty"`
	TargetEpsilon   float64 `json:"target_epsilon,omitempty"`   // privacy budget; 0: none (then NoiseMultiplier is needed)
	Delta           float64 `json:"delta,omitempty"`            // default 1e-5
	MaxGradNorm     float64 `json:"max_grad_norm,omitempty"`    // per-image clipping norm; default 1
	NoiseMultiplier float64 `json:"noise_multiplier,omitempty"` // 0: chosen from TargetEpsilon
}

// Defaults returns the configuration a user who passes only --data gets:
// CellNet at 64 px with AdamW, a cosine schedule with warm-up, label
// smoothing, and flips and quarter turns without colour jitter (on PBC, a
// single lab's images, jitter cost 0.4-0.9 points of validation accuracy at
// 28 and 64 px over three seeds; data from several sites wants "standard" or
// "strong") — the recipe that reaches full accuracy on blood-cell images on a
// laptop's CPU.
func Defaults() Config {
	return Config{
		Model: "cellnet", Size: 64, Crop: 1,
		Epochs: 15, Batch: 128, Optimizer: "adamw", LR: 2e-3, WeightDecay: 0.05,
		Schedule: "cosine", WarmupEpochs: 1, LabelSmoothing: 0.1, Augment: "light",
		Monitor: "auc", Patience: 0, TTA: true, Seed: 1,
	}
}

// WithDefaults returns c with every zero field set from Defaults.
func (c Config) WithDefaults() Config {
	d := Defaults()
	setStr := func(v *string, def string) {
		if *v == "" {
			*v = def
		}
	}
	setStr(&c.Model, d.Model)
	setStr(&c.Optimizer, d.Optimizer)
	setStr(&c.Schedule, d.Schedule)
	setStr(&c.Augment, d.Augment)
	setStr(&c.Monitor, d.Monitor)
	if c.Size == 0 {
		c.Size = d.Size
	}
	if c.Crop == 0 {
		c.Crop = d.Crop
	}
	if c.Epochs == 0 {
		c.Epochs = d.Epochs
	}
	if c.Batch == 0 {
		c.Batch = d.Batch
	}
	if c.LR == 0 {
		c.LR = d.LR
	}
	if c.Seed == 0 {
		c.Seed = d.Seed
	}
	return c.dpDefaults()
}

// Validate reports the first field out of range, naming it.
func (c Config) Validate() error {
	known := false
	for _, n := range models.Names() {
		known = known || n == c.Model
	}
	bad := func(field string, v any, want string) error {
		return fmt.Errorf("train: %s %v: %s", field, v, want)
	}
	switch {
	case c.Data == "":
		return fmt.Errorf("train: no data given")
	case !known:
		return bad("model", c.Model, "want one of "+strings.Join(models.Names(), ", "))
	case c.Size < 8 || c.Size > 1024:
		return bad("size", c.Size, "want 8 to 1024 pixels")
	case c.Crop <= 0 || c.Crop > 1:
		return bad("crop", c.Crop, "want a fraction in (0, 1]")
	case c.Epochs < 1:
		return bad("epochs", c.Epochs, "want at least 1")
	case c.Batch < 2:
		return bad("batch", c.Batch, "want at least 2 (batch norm needs 2 images)")
	case c.LR <= 0:
		return bad("lr", c.LR, "want > 0")
	case c.WeightDecay < 0:
		return bad("weight_decay", c.WeightDecay, "want >= 0")
	case c.LabelSmoothing < 0 || c.LabelSmoothing >= 1:
		return bad("label_smoothing", c.LabelSmoothing, "want [0, 1)")
	case c.Dropout < 0 || c.Dropout >= 1:
		return bad("dropout", c.Dropout, "want [0, 1)")
	case c.WarmupEpochs < 0 || c.WarmupEpochs > float64(c.Epochs):
		return bad("warmup_epochs", c.WarmupEpochs, "want between 0 and epochs")
	case c.Patience < 0 || c.CheckpointEvery < 0 || c.Workers < 0:
		return fmt.Errorf("train: patience, checkpoint_every and workers must be >= 0")
	}
	if !oneOf(c.Optimizer, "adamw", "adam", "sgd") {
		return bad("optimizer", c.Optimizer, "want adamw, adam or sgd")
	}
	if !oneOf(c.Schedule, "cosine", "onecycle", "step", "constant") {
		return bad("schedule", c.Schedule, "want cosine, onecycle, step or constant")
	}
	if !oneOf(c.Augment, augmentNames...) {
		return bad("augment", c.Augment, "want "+strings.Join(augmentNames, ", "))
	}
	if _, err := shift.NewPreparation(c.StainNorm, c.CellCrop, c.Size); err != nil {
		return fmt.Errorf("train: %w", err)
	}
	if c.CellCrop > 0 && c.Crop != 1 {
		return bad("crop", c.Crop, "want 1 with cell_crop, which crops around the cell itself")
	}
	if !oneOf(c.Device, "", "cpu", "cuda") {
		return bad("device", c.Device, "want cpu or cuda")
	}
	if !oneOf(c.Monitor, "auc", "accuracy", "loss") {
		return bad("monitor", c.Monitor, "want auc, accuracy or loss")
	}
	return c.validateDP()
}

func oneOf(v string, set ...string) bool {
	for _, s := range set {
		if v == s {
			return true
		}
	}
	return false
}

// LoadConfig reads a JSON config file over Defaults: fields the file does
// not name keep their default. Unknown fields are an error, so a typo does
// not silently fall back to a default.
func LoadConfig(path string) (Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return Config{}, fmt.Errorf("train: %w", err)
	}
	defer f.Close()
	c := Defaults()
	dec := json.NewDecoder(f)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return Config{}, fmt.Errorf("train: %s: %w", path, err)
	}
	return c, nil
}
