package train

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/deepscope/deepscope/data"
	"github.com/deepscope/deepscope/models"
	"github.com/deepscope/deepscope/nn"
	"github.com/deepscope/deepscope/optim"
	"github.com/deepscope/deepscope/tboard"
	"github.com/deepscope/deepscope/tensor"
)

// Options say how a run is carried out; unlike Config they do not change
// its result.
type Options struct {
	Out     string    // run directory, created if needed
	Resume  bool      // continue the run in Out from its checkpoint
	Log     io.Writer // progress and messages; nil discards them
	Version string    // deepscope version recorded in run.json
	// StopAfterSteps ends the run (as if killed, without a final
	// checkpoint) once this many optimizer steps are done in this process;
	// 0 means never. Tests use it to interrupt a run at a known place.
	StopAfterSteps int
	// StepHook, when set, is called after every optimizer step with the
	// number of steps taken so far.
	StepHook func(step int)
	// EpochHook, when set, is called after every epoch's validation and
	// checkpoint with that epoch's metrics; returning true ends the run
	// there (Summary.Stopped "paused"). The run is not done: resuming it
	// continues with the next epoch, as a search that pauses and later
	// promotes a trial needs.
	EpochHook func(l EpochLog) (pause bool)
}

// Summary is what Run reports when it ends.
type Summary struct {
	Epochs    int     // epochs completed
	BestEpoch int     // 1-based epoch of the kept model
	Best      float64 // its validation score (the monitored metric; loss is negated)
	Seconds   float64 // training wall time, resumed parts included
	ImgPerSec float64 // training images per second
	Stopped   string  // why training ended: "epochs", "early stopping", "privacy budget" or "paused"
	// Calibration is the temperature fitted on the validation split when
	// the run ended (nil when paused).
	Calibration *Calibration
}

// ErrInterrupted is returned when Options.StopAfterSteps or a cancelled
// context ends a run before its last epoch; the checkpoint on disk is the
// last one written, as after a crash.
var ErrInterrupted = errors.New("train: interrupted")

// session is one process's part of a run: everything the loop needs.
type session struct {
	balance *groupBalance // nil unless Config.BalanceBy

	cfg   Config
	opt   Options
	info  *RunInfo
	model nn.Module
	optim optim.Optimizer
	sched optim.Schedule
	train *data.Loader
	val   *data.Loader
	ce    nn.CrossEntropy
	bce   nn.BCEWithLogits
	tb    *tboard.Writer
	log   io.Writer
	logs  []EpochLog // metrics.jsonl as written so far
	spe   int        // steps per epoch
	dp    *dpState   // nil unless Config.DP
	gpu   *gpu       // nil unless Config.Device is "cuda"
}

// Run trains a model as cfg says, writing the run directory opt.Out. With
// opt.Resume it continues the run found there (its stored config wins).
func Run(ctx context.Context, cfg Config, opt Options) (*Summary, error) {
	s, st, err := start(cfg, opt)
	if err != nil {
		return nil, err
	}
	defer s.tb.Close()
	sum, err := s.loop(ctx, st)
	if err != nil || sum.Stopped == "paused" {
		return sum, err
	}
	m, err := Load(opt.Out) // the kept weights, which may be an earlier epoch's
	if err != nil {
		return nil, err
	}
	if sum.Calibration, err = calibrate(m, s.val, s.log); err != nil {
		return nil, err
	}
	return sum, nil
}

func start(cfg Config, opt Options) (*session, loopState, error) {
	log := opt.Log
	if log == nil {
		log = io.Discard
	}
	if opt.Out == "" {
		return nil, loopState{}, fmt.Errorf("train: no run directory given")
	}
	if opt.Resume {
		ri, err := ReadRunInfo(opt.Out)
		if err != nil {
			return nil, loopState{}, err
		}
		device := cfg.Device
		cfg = ri.Config
		if device != "" { // where the run continues may change: a GPU run resumes on the CPU and back
			cfg.Device = device
		}
	}
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, loopState{}, err
	}
	if err := checkDevice(cfg); err != nil {
		return nil, loopState{}, err
	}
	if _, err := os.Stat(filepath.Join(opt.Out, RunFile)); err == nil && !opt.Resume {
		return nil, loopState{}, fmt.Errorf("train: %s already holds a run; resume it or choose another run directory", opt.Out)
	}
	if err := os.MkdirAll(opt.Out, 0o755); err != nil {
		return nil, loopState{}, fmt.Errorf("train: %w", err)
	}
	ds, err := openSplitData(cfg)
	if err != nil {
		return nil, loopState{}, err
	}
	trainDS, valDS, testDS := ds.Subset("train"), ds.Subset("val"), ds.Subset("test")
	if trainDS.Len() == 0 || valDS.Len() == 0 {
		return nil, loopState{}, fmt.Errorf("train: %s has %d training and %d validation images; both are needed (see deepscope data split)", cfg.Data, trainDS.Len(), valDS.Len())
	}
	if cfg.BalanceBy == "" {
		cfg.GroupWeights = nil
	} else if !opt.Resume {
		if ds.MultiLabel {
			return nil, loopState{}, fmt.Errorf("train: balance_by %q: group balancing is for single-label data", cfg.BalanceBy)
		}
		if cfg.GroupWeights, err = GroupWeights(trainDS, cfg.BalanceBy); err != nil {
			return nil, loopState{}, err
		}
	}
	info := &RunInfo{Config: cfg, Classes: ds.Classes, MultiLabel: ds.MultiLabel, Channels: 3,
		Fingerprint: fingerprint(ds), Version: opt.Version, Threads: tensor.Threads(),
		TrainImages: trainDS.Len(), ValImages: valDS.Len(), TestImages: testDS.Len()}
	if opt.Resume {
		old, err := ReadRunInfo(opt.Out)
		if err != nil {
			return nil, loopState{}, err
		}
		if old.Fingerprint != info.Fingerprint {
			return nil, loopState{}, fmt.Errorf("train: %s: the data changed since the run started (fingerprint %.12s, now %.12s)", cfg.Data, old.Fingerprint, info.Fingerprint)
		}
		if old.Threads != info.Threads {
			fmt.Fprintf(log, "note: the run started with %d threads and resumes with %d; it will not be bit-identical to an uninterrupted run\n", old.Threads, info.Threads)
		}
		info = old
	} else {
		statDS := trainDS
		if cfg.DP { // statistics of the private images would leak past the guarantee
			statDS = valDS
		}
		if info.Preparation, err = fitPreparation(cfg, statDS); err != nil {
			return nil, loopState{}, err
		}
		if info.Preparation != nil {
			fmt.Fprintf(log, "preparing every image by %s\n", info.Preparation)
		}
		fmt.Fprintf(log, "measuring channel statistics on %d %s images\n", min(statDS.Len(), statImages), statDS.Items[0].Split)
		if info.Mean, info.Std, err = channelStats(statDS, info.Preprocess(), cfg.Seed); err != nil {
			return nil, loopState{}, err
		}
		if err := writeJSON(filepath.Join(opt.Out, RunFile), info); err != nil {
			return nil, loopState{}, err
		}
	}

	s := &session{cfg: cfg, opt: opt, info: info, log: log}
	lc := data.LoaderConfig{BatchSize: cfg.Batch, Shuffle: true, Seed: cfg.Seed, Workers: cfg.Workers,
		Preprocess: info.Preprocess(), Transform: Augmentation(cfg.Augment, cfg.Size), Normalize: info.Normalize(),
		DropLast: true, Cache: true}
	if s.train, err = data.NewLoader(trainDS, lc); err != nil {
		return nil, loopState{}, err
	}
	if s.val, err = EvalLoader(valDS, info, cfg.Batch); err != nil {
		return nil, loopState{}, err
	}
	s.spe = s.train.NumBatches()
	if s.spe == 0 {
		return nil, loopState{}, fmt.Errorf("train: %d training images make no full batch of %d; lower --batch", trainDS.Len(), cfg.Batch)
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x5eed))
	if s.model, err = models.New(cfg.Model, rng, info.ModelSpec()); err != nil {
		return nil, loopState{}, err
	}
	if cfg.DP {
		if s.dp, err = newDP(s, trainDS); err != nil {
			return nil, loopState{}, err
		}
	}
	if s.optim, err = newOptimizer(cfg, s.model); err != nil {
		return nil, loopState{}, err
	}
	s.sched = newSchedule(cfg, s.spe)
	s.ce = nn.CrossEntropy{LabelSmoothing: float32(cfg.LabelSmoothing)}
	if cfg.BalanceBy != "" {
		if s.balance, err = newGroupBalance(trainDS, cfg.BalanceBy, cfg.GroupWeights); err != nil {
			return nil, loopState{}, err
		}
		fmt.Fprintf(log, "loss weights by %s: %s\n", cfg.BalanceBy, groupSummary(cfg.GroupWeights))
	}

	var st loopState
	logs, err := ReadMetrics(opt.Out)
	if err != nil {
		return nil, loopState{}, err
	}
	if opt.Resume {
		if st, err = loadCheckpoint(opt.Out, s.model, s.optim); err != nil {
			return nil, loopState{}, err
		}
		kept := logs[:0]
		for _, l := range logs {
			if l.Epoch <= st.Epoch {
				kept = append(kept, l)
			}
		}
		if err := writeMetrics(opt.Out, kept); err != nil {
			return nil, loopState{}, err
		}
		s.logs = kept
		fmt.Fprintf(log, "resuming %s at epoch %d, batch %d (step %d)\n", opt.Out, st.Epoch+1, st.Batch, st.Step)
	} else {
		if err := writeMetrics(opt.Out, nil); err != nil {
			return nil, loopState{}, err
		}
	}
	if cfg.Device == "cuda" {
		if s.gpu, err = newGPU(s); err != nil {
			return nil, loopState{}, err
		}
	}
	if s.tb, err = tboard.NewWriter(filepath.Join(opt.Out, EventsDir)); err != nil {
		return nil, loopState{}, err
	}
	fmt.Fprintf(log, "%s: %d parameters, %d classes, %d train / %d val / %d test images, %d steps per epoch, %d threads\n",
		cfg.Model, nn.NumParams(s.model), len(info.Classes), trainDS.Len(), valDS.Len(), testDS.Len(), s.spe, tensor.Threads())
	return s, st, nil
}

// openSplitData opens the dataset and makes sure every item has a split.
func openSplitData(cfg Config) (*data.Dataset, error) {
	path := cfg.Data
	if cfg.Split != "" {
		path = cfg.Split
	}
	ds, err := data.Open(path)
	if err != nil {
		return nil, err
	}
	for _, it := range ds.Items {
		if it.Split == "" {
			return data.Split(ds, data.SplitConfig{Val: 0.1, Test: 0.2, Seed: cfg.Seed})
		}
	}
	return ds, nil
}

func newOptimizer(cfg Config, m nn.Module) (optim.Optimizer, error) {
	switch cfg.Optimizer {
	case "sgd":
		mom := cfg.Momentum
		if mom == 0 {
			mom = 0.9
		}
		return optim.NewSGD(m, optim.SGDConfig{LR: cfg.LR, Momentum: mom, Nesterov: true, WeightDecay: cfg.WeightDecay, SkipNoDecay: true})
	case "adam":
		return optim.NewAdam(m, optim.AdamConfig{LR: cfg.LR, WeightDecay: cfg.WeightDecay})
	default:
		return optim.NewAdamW(m, optim.AdamConfig{LR: cfg.LR, WeightDecay: cfg.WeightDecay, SkipNoDecay: true})
	}
}

func newSchedule(cfg Config, spe int) optim.Schedule {
	total := cfg.Epochs * spe
	var s optim.Schedule
	switch cfg.Schedule {
	case "constant":
		s = optim.Constant(cfg.LR)
	case "step":
		s = optim.MultiStep{Base: cfg.LR, Milestones: []int{total / 2, total * 3 / 4}, Gamma: 0.1}
	case "onecycle":
		return optim.OneCycle{Max: cfg.LR, Total: total, PctStart: 0.3, DivFactor: 25, FinalDivFactor: 1e4}
	default:
		s = optim.Cosine{Base: cfg.LR, Total: total, Min: 0}
	}
	if w := int(cfg.WarmupEpochs * float64(spe)); w > 0 {
		return optim.Warmup{Steps: w, StartFactor: 0.01, Then: s}
	}
	return s
}
