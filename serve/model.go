package serve

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/deepscope/deepscope/train"
)

// loaded is one version of the model: the network, which only the batcher
// goroutine may run, and what handlers may read concurrently (its Info is
// never modified after loading).
type loaded struct {
	m        *train.Model
	name     string // the run directory's base name
	version  string // first 12 hex digits of the weights' SHA-256
	tta      bool
	loadedAt time.Time
	info     ModelInfo
}

// ModelInfo is what GET /v1/models says about a model.
type ModelInfo struct {
	Name         string    `json:"name"`
	Version      string    `json:"version"`
	Architecture string    `json:"architecture"`
	Weights      string    `json:"weights"`
	LoadedAt     time.Time `json:"loaded_at"`
	Classes      []string  `json:"classes"`
	MultiLabel   bool      `json:"multi_label"`
	Input        struct {
		Size     int       `json:"size"`     // side of the square the image is resized to
		Crop     float64   `json:"crop"`     // centre fraction kept before resizing
		Channels int       `json:"channels"` // 1 or 3
		Mean     []float32 `json:"mean"`     // per-channel normalisation
		Std      []float32 `json:"std"`
	} `json:"input"`
	TTA      bool         `json:"tta"`
	Training *TrainingLog `json:"training,omitempty"`
	Test     *TestMetrics `json:"test,omitempty"`
}

// TrainingLog summarises metrics.jsonl: the epochs run and the validation
// measures of the kept (best) epoch.
type TrainingLog struct {
	Epochs      int     `json:"epochs"`
	BestEpoch   int     `json:"best_epoch"`
	ValLoss     float64 `json:"val_loss"`
	ValAccuracy float64 `json:"val_accuracy"`
	ValAUC      float64 `json:"val_auc"`
	TrainImages int     `json:"train_images"`
	ValImages   int     `json:"val_images"`
}

// TestMetrics are the point estimates of eval.json, the test-split
// evaluation of the best model (null where a measure does not apply).
type TestMetrics struct {
	N                int      `json:"n"`
	Accuracy         *float64 `json:"accuracy"`
	BalancedAccuracy *float64 `json:"balanced_accuracy"`
	MacroF1          *float64 `json:"macro_f1"`
	AUC              *float64 `json:"auc"`
}

// loadModel reads the run in dir and describes it.
func loadModel(dir string, tta *bool) (*loaded, error) {
	var (
		m       *train.Model
		version string
		err     error
	)
	// Hash the weights before and after loading them, so that a file
	// replaced meanwhile is not loaded under the other version's name.
	for try := 0; ; try++ {
		before, _ := fileVersion(filepath.Join(dir, train.BestFile))
		if m, err = train.Load(dir); err != nil {
			return nil, err
		}
		if version, err = fileVersion(m.Weights); err != nil {
			return nil, err
		}
		if before == version || m.Weights != filepath.Join(dir, train.BestFile) || try == 2 {
			break
		}
	}
	abs, _ := filepath.Abs(dir)
	l := &loaded{m: m, name: filepath.Base(abs), version: version, tta: m.Info.Config.TTA, loadedAt: time.Now().UTC()}
	if tta != nil {
		l.tta = *tta
	}
	in := m.Info
	mi := &l.info
	mi.Name, mi.Version, mi.Architecture, mi.Weights = l.name, version, in.Config.Model, filepath.Base(m.Weights)
	mi.LoadedAt, mi.Classes, mi.MultiLabel, mi.TTA = l.loadedAt, in.Classes, in.MultiLabel, l.tta
	mi.Input.Size, mi.Input.Crop, mi.Input.Channels = in.Config.Size, in.Config.Crop, in.Channels
	mi.Input.Mean, mi.Input.Std = in.Mean, in.Std
	if logs, err := train.ReadMetrics(dir); err == nil && len(logs) > 0 {
		t := &TrainingLog{Epochs: len(logs), TrainImages: in.TrainImages, ValImages: in.ValImages}
		for _, e := range logs {
			if e.Best {
				t.BestEpoch, t.ValLoss, t.ValAccuracy, t.ValAUC = e.Epoch, e.ValLoss, e.ValAccuracy, e.ValAUC
			}
		}
		mi.Training = t
	}
	if b, err := os.ReadFile(filepath.Join(dir, train.EvalFile)); err == nil {
		var tm TestMetrics
		if json.Unmarshal(b, &tm) == nil {
			mi.Test = &tm
		}
	}
	return l, nil
}

// fileVersion names a weights file by the first 12 hex digits of its
// SHA-256.
func fileVersion(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("serve: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("serve: %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil))[:12], nil
}
