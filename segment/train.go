package segment

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/deepscope/deepscope/jsonl"
	"github.com/deepscope/deepscope/nn"
	"github.com/deepscope/deepscope/optim"
	"github.com/deepscope/deepscope/progress"
	"github.com/deepscope/deepscope/tensor"
)

// Options say how a training run is carried out; unlike Config they do
// not change its result.
type Options struct {
	Out     string    // run directory, created if needed
	Resume  bool      // continue the run in Out from its checkpoint
	Log     io.Writer // progress and messages; nil discards them
	Version string    // recorded in run.json
	// StopAfterSteps ends the run, as if killed (no checkpoint written),
	// after this many steps in this process; 0 means never. For tests.
	StopAfterSteps int
	// Device is where the training steps run: "cpu" (or empty) or "cuda"
	// for the first NVIDIA GPU, the three-class head only. Validation,
	// tuning and checkpoints stay on the CPU either way. The GPU's
	// arithmetic rounds differently (and uses TF32 tensor cores), so its
	// runs match the CPU's in distribution, not to the bit.
	Device string
}

// TrainSummary is what Train reports when it ends.
type TrainSummary struct {
	Epochs    int     // epochs completed
	BestEpoch int     // 1-based epoch of best.safetensors
	Best      float64 // its hold-out score (Data Science Bowl metric)
	Seconds   float64 // training and validation wall time, resumed parts included
	Tuning    *Tuning // thresholds tuned on the hold-out; nil with Config.NoTune
}

// ErrInterrupted is returned when a cancelled context or
// Options.StopAfterSteps ends a run before its last epoch.
var ErrInterrupted = errors.New("segment: interrupted")

// EpochLog is one line of metrics.jsonl.
type EpochLog struct {
	Epoch     int      `json:"epoch"` // 1-based
	Step      int      `json:"step"`
	LR        float64  `json:"lr"`
	TrainLoss float64  `json:"train_loss"`
	ValScore  *float64 `json:"val_score,omitempty"` // Data Science Bowl metric on the hold-out
	ValAP50   *float64 `json:"val_ap50,omitempty"`
	ValDice   *float64 `json:"val_dice,omitempty"`
	Seconds   float64  `json:"seconds"` // wall time of the epoch, validation included
	CropsPerS float64  `json:"crops_per_s"`
	Best      bool     `json:"best,omitempty"`
}

// loopState is where training stands; checkpoints store it as metadata.
type loopState struct {
	Epoch     int     `json:"epoch"` // 0-based epoch in progress
	Batch     int     `json:"batch"` // next batch within it
	Step      int     `json:"step"`
	LossSum   float64 `json:"loss_sum"`
	LossN     int     `json:"loss_n"`
	Best      float64 `json:"best"`
	BestEpoch int     `json:"best_epoch"`
	Elapsed   float64 `json:"elapsed"`
}

// trainer is one process's part of a run.
type trainer struct {
	cfg   Config
	info  *RunInfo
	opt   Options
	log   io.Writer
	model *Model
	optim optim.Optimizer
	sched optim.Schedule
	ce    nn.CrossEntropy
	// classW weighs the classes in the loss: 1, 1 and BoundaryWeight.
	classW []float32 // applied per pixel through ce.RowWeight, with the contact term
	hv     hvLoss    // the hv head's loss
	ht     []float32 // its map targets
	star   starLoss  // the star-convex head's loss
	perms  [8][]int  // its rays under each crop turn (turnPerms)
	pt     []float32 // its object probability targets
	dt     []float32 // its ray distance targets
	train  []trainImage
	val    []evalImage
	spe    int
	x      *tensor.Tensor
	t      []int
	e      []float32 // the crops' contactMap values, with a contact weight
	rw     []float32 // the crops' per-pixel loss weights (classW, plus the contact term)
	lab    []int32   // fillZoomedCrop's scratch
	gpu    *gpu      // the network on a GPU (Options.Device "cuda"); nil on the CPU
}

// Train fits a model as cfg says and writes the run directory opt.Out:
// run.json (the config and the seeded hold-out), checkpoint.safetensors
// (written atomically every cfg.CheckpointEvery steps and at epoch ends),
// best.safetensors (the weights with the best hold-out score) and
// metrics.jsonl. With opt.Resume it continues the run in opt.Out where its
// checkpoint left it, with the run's own config: batches and crops are
// drawn from the seed, the epoch and the batch number, so a resumed run
// repeats what an uninterrupted one would have done.
func Train(ctx context.Context, cfg Config, opt Options) (*TrainSummary, error) {
	tr, st, err := startTraining(cfg, opt)
	if err != nil {
		return nil, err
	}
	sum, err := tr.loop(ctx, st)
	tr.gpu.close()
	if err != nil || tr.cfg.NoTune {
		return sum, err
	}
	if sum.Tuning, err = tr.tune(); err != nil {
		return nil, err
	}
	return sum, nil
}

// tune tunes the thresholds of the last weights on the hold-out images
// and records them in run.json. The last weights, where the cosine
// schedule ends, are the run's model rather than the best validation's:
// the validations use the default thresholds, and choosing weights by
// their hold-out score and then tuning and scoring them on the same images
// would lean optimistic (in a 95-epoch DSB2018 run the best validation
// was epoch 38's, whose tuned weights scored 0.005 under the last ones).
func (tr *trainer) tune() (*Tuning, error) {
	path := filepath.Join(tr.opt.Out, CheckpointFile)
	if err := loadWeights(tr.model.Net, path); err != nil {
		return nil, err
	}
	tr.info.Tuning = tuneModel(tr.model, tr.val, tr.log)
	tr.info.Tuning.Weights = CheckpointFile
	return tr.info.Tuning, writeJSON(filepath.Join(tr.opt.Out, RunFile), tr.info)
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func startTraining(cfg Config, opt Options) (*trainer, loopState, error) {
	log := opt.Log
	if log == nil {
		log = io.Discard
	}
	if opt.Out == "" {
		return nil, loopState{}, fmt.Errorf("segment: no run directory given")
	}
	var old *RunInfo
	if opt.Resume {
		var err error
		if old, err = ReadRunInfo(opt.Out); err != nil {
			return nil, loopState{}, err
		}
		cfg = old.Config
	} else if _, err := os.Stat(filepath.Join(opt.Out, RunFile)); err == nil {
		return nil, loopState{}, fmt.Errorf("segment: %s already holds a run; resume it or choose another run directory", opt.Out)
	}
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, loopState{}, err
	}
	if err := checkDevice(cfg, opt); err != nil {
		return nil, loopState{}, err
	}
	ds, err := Open(cfg.Data)
	if err != nil {
		return nil, loopState{}, err
	}
	if len(ds.Samples) < 2 {
		return nil, loopState{}, fmt.Errorf("segment: %s has %d image; training needs two or more (one is held out)", cfg.Data, len(ds.Samples))
	}
	trainNames, holdNames := SplitHoldout(ds.Samples, cfg.Holdout, cfg.holdoutSeed())
	info := &RunInfo{Config: cfg, Kind: "segment", Fingerprint: ds.Fingerprint(), Train: trainNames, Holdout: holdNames,
		Threads: tensor.Threads(), Version: opt.Version}
	if opt.Device == DeviceCUDA {
		info.Device = DeviceCUDA
	}
	if old != nil {
		if old.Fingerprint != info.Fingerprint {
			return nil, loopState{}, fmt.Errorf("segment: %s: the data changed since the run started", cfg.Data)
		}
		info = old
	}
	if err := os.MkdirAll(opt.Out, 0o755); err != nil {
		return nil, loopState{}, fmt.Errorf("segment: %w", err)
	}
	trainS, err := pick(ds, info.Train)
	if err != nil {
		return nil, loopState{}, err
	}
	holdS, err := pick(ds, info.Holdout)
	if err != nil {
		return nil, loopState{}, err
	}
	tr := &trainer{cfg: cfg, opt: opt, log: log, info: info}
	t0 := time.Now()
	if tr.train, err = loadTrain(trainS, cfg); err != nil {
		return nil, loopState{}, err
	}
	if tr.val, err = loadEval(holdS, cfg.InChannels()); err != nil {
		return nil, loopState{}, err
	}
	fmt.Fprintf(log, "read %d training and %d hold-out images in %.0fs\n", len(tr.train), len(tr.val), time.Since(t0).Seconds())
	tr.spe = len(tr.train) / cfg.Batch
	if tr.spe == 0 {
		return nil, loopState{}, fmt.Errorf("segment: %d training images make no batch of %d; lower --batch", len(tr.train), cfg.Batch)
	}
	tr.model = NewModel(rand.New(rand.NewPCG(cfg.Seed, 0x5e9)), cfg)
	if tr.optim, err = optim.NewAdamW(tr.model.Net, optim.AdamConfig{LR: cfg.LR, WeightDecay: cfg.WeightDecay, SkipNoDecay: true}); err != nil {
		return nil, loopState{}, err
	}
	total := cfg.Epochs * tr.spe
	tr.sched = optim.Warmup{Steps: min(tr.spe, total/10), StartFactor: 0.01,
		Then: optim.Cosine{Base: cfg.LR, Total: total - min(tr.spe, total/10)}}
	tr.classW = []float32{1, 1, float32(cfg.BoundaryWeight)}
	if cfg.Instance.HV {
		tr.ht = make([]float32, cfg.Batch*cfg.Size*cfg.Size*2)
	}
	if r := cfg.Instance.Rays; r > 0 {
		tr.star = starLoss{rays: r}
		tr.perms = turnPerms(r)
		tr.pt = make([]float32, cfg.Batch*cfg.Size*cfg.Size)
		tr.dt = make([]float32, cfg.Batch*cfg.Size*cfg.Size*r)
	}

	var st loopState
	if opt.Resume {
		if st, err = tr.loadCheckpoint(); err != nil {
			return nil, loopState{}, err
		}
		logs, err := ReadMetrics(opt.Out)
		if err != nil {
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
		fmt.Fprintf(log, "resuming %s at epoch %d, batch %d (step %d)\n", opt.Out, st.Epoch+1, st.Batch, st.Step)
	} else {
		if err := writeJSON(filepath.Join(opt.Out, RunFile), info); err != nil {
			return nil, loopState{}, err
		}
		if err := writeMetrics(opt.Out, nil); err != nil {
			return nil, loopState{}, err
		}
	}
	loss := ""
	if cfg.ContactWeight > 0 {
		loss = fmt.Sprintf(", contact weight %g", cfg.ContactWeight)
	}
	fmt.Fprintf(log, "U-Net base %d depth %d, %s head%s: %d parameters; %d training / %d hold-out images; %d steps of %d crops of %d px per epoch; %d threads\n",
		cfg.Base, cfg.Depth, headName(cfg), loss, nn.NumParams(tr.model.Net), len(tr.train), len(tr.val), tr.spe, cfg.Batch, cfg.Size, tensor.Threads())
	if cfg.Balance > 0 {
		var kinds []string
		for k, c := range kindCounts(tr.train) {
			if c > 0 {
				kinds = append(kinds, fmt.Sprintf("%d %s", c, imageKind(k)))
			}
		}
		fmt.Fprintf(log, "balancing %s training images (balance %g)\n", strings.Join(kinds, ", "), cfg.Balance)
	}
	if opt.Device == DeviceCUDA {
		if tr.gpu, err = newGPU(tr, log); err != nil {
			return nil, loopState{}, err
		}
	}
	return tr, st, nil
}

func (tr *trainer) loop(ctx context.Context, st loopState) (*TrainSummary, error) {
	cfg := tr.cfg
	stepsHere := 0
	for st.Epoch < cfg.Epochs {
		nn.SetTraining(tr.model.Net, true)
		t0 := time.Now()
		mark := t0
		crops := 0
		perm := tr.epochImages(st.Epoch)
		bar := progress.New(tr.log, tr.spe, fmt.Sprintf("epoch %d/%d", st.Epoch+1, cfg.Epochs))
		for st.Batch < tr.spe {
			if ctx.Err() != nil {
				st.Elapsed += time.Since(mark).Seconds()
				if err := tr.saveCheckpoint(st); err != nil {
					return nil, err
				}
				return nil, ErrInterrupted
			}
			if tr.opt.StopAfterSteps > 0 && stepsHere >= tr.opt.StopAfterSteps {
				return nil, ErrInterrupted
			}
			loss, err := tr.step(perm[st.Batch*cfg.Batch:(st.Batch+1)*cfg.Batch], st)
			if err != nil {
				return nil, err
			}
			if math.IsNaN(float64(loss)) || math.IsInf(float64(loss), 0) {
				return nil, fmt.Errorf("segment: loss is %v at epoch %d, batch %d: lower --lr", loss, st.Epoch+1, st.Batch+1)
			}
			st.Step++
			st.Batch++
			stepsHere++
			crops += cfg.Batch
			st.LossSum += float64(loss)
			st.LossN++
			bar.Update(st.Batch, progress.Float("loss", st.LossSum/float64(st.LossN)),
				progress.Float("crops/s", float64(crops)/time.Since(t0).Seconds()))
			if cfg.CheckpointEvery > 0 && st.Step%cfg.CheckpointEvery == 0 && st.Batch < tr.spe {
				st.Elapsed += time.Since(mark).Seconds()
				mark = time.Now()
				if err := tr.saveCheckpoint(st); err != nil {
					return nil, err
				}
			}
		}
		bar.Done()
		rate := float64(crops) / time.Since(t0).Seconds()
		l := EpochLog{Epoch: st.Epoch + 1, Step: st.Step, LR: tr.optim.LR(), TrainLoss: st.LossSum / math.Max(1, float64(st.LossN)), CropsPerS: rate}
		if (st.Epoch+1)%cfg.ValEvery == 0 || st.Epoch+1 == cfg.Epochs {
			if err := tr.gpu.sync(); err != nil {
				return nil, err
			}
			sum, _ := validate(tr.model, tr.val)
			nn.SetTraining(tr.model.Net, true)
			l.ValScore, l.ValAP50, l.ValDice = &sum.Score, &sum.AP50, &sum.Dice
			if st.BestEpoch == 0 || sum.Score > st.Best {
				st.Best, st.BestEpoch, l.Best = sum.Score, st.Epoch+1, true
				if err := nn.SaveFile(tr.model.Net, filepath.Join(tr.opt.Out, BestFile), map[string]string{
					"epoch": strconv.Itoa(st.Epoch + 1), "score": strconv.FormatFloat(sum.Score, 'g', -1, 64)}); err != nil {
					return nil, err
				}
			}
		}
		l.Seconds = time.Since(t0).Seconds()
		st.Elapsed += time.Since(mark).Seconds()
		st.Epoch++
		st.Batch, st.LossSum, st.LossN = 0, 0, 0
		if err := tr.appendMetrics(l); err != nil {
			return nil, err
		}
		if err := tr.saveCheckpoint(st); err != nil {
			return nil, err
		}
		msg := fmt.Sprintf("epoch %d/%d  loss %.4f  %.1f crops/s  %.0fs", l.Epoch, cfg.Epochs, l.TrainLoss, rate, l.Seconds)
		if l.ValScore != nil {
			msg += fmt.Sprintf("  hold-out score %.4f  AP50 %.4f  Dice %.4f", *l.ValScore, *l.ValAP50, *l.ValDice)
		}
		if l.Best {
			msg += "  (best)"
		}
		fmt.Fprintln(tr.log, msg)
	}
	return &TrainSummary{Epochs: st.Epoch, BestEpoch: st.BestEpoch, Best: st.Best, Seconds: st.Elapsed}, nil
}

// epochImages returns the training images of an epoch's crops in the
// order the steps take them, drawn from the seed and the epoch alone (so a
// resumed run draws them again): a permutation of every image, or with
// Config.Balance a weighted draw of as many, with replacement, in which
// each kind of image (see imageKind) has a share of the crops
// proportional to n^(1-Balance) for its n images.
func (tr *trainer) epochImages(epoch int) []int {
	rng := rand.New(rand.NewPCG(tr.cfg.Seed, uint64(epoch)))
	if tr.cfg.Balance == 0 {
		return rng.Perm(len(tr.train))
	}
	n := kindCounts(tr.train)
	cum := make([]float64, len(tr.train))
	sum := 0.0
	for i, im := range tr.train {
		sum += math.Pow(float64(n[im.kind]), -tr.cfg.Balance)
		cum[i] = sum
	}
	out := make([]int, len(tr.train))
	for k := range out {
		i, _ := slices.BinarySearch(cum, rng.Float64()*sum)
		out[k] = min(i, len(cum)-1)
	}
	return out
}

// step trains on one batch of random crops of the images idx.
func (tr *trainer) step(idx []int, st loopState) (float32, error) {
	s := tr.cfg.Size
	c := tr.cfg.InChannels()
	x := tensor.Ensure(&tr.x, len(idx), s, s, c)
	if len(tr.t) != len(idx)*s*s {
		tr.t = make([]int, len(idx)*s*s)
	}
	w0 := float32(tr.cfg.ContactWeight)
	if w0 > 0 {
		tr.e = resize(tr.e, len(tr.t))
	}
	rng := rand.New(rand.NewPCG(tr.cfg.Seed^0xc409, uint64(st.Epoch)<<32|uint64(st.Batch)))
	for k, i := range idx {
		var e []float32
		if w0 > 0 {
			e = tr.e[k*s*s : (k+1)*s*s]
		}
		if tr.cfg.Zoom > 0 {
			tr.lab = resize(tr.lab, (s+2)*(s+2))
			fillZoomedCrop(&tr.train[i], s, tr.cfg.Zoom, tr.cfg.ObjectCrops, rng, x.Data[k*s*s*c:(k+1)*s*s*c], tr.t[k*s*s:(k+1)*s*s], e, tr.lab)
		} else {
			var ht, pt, dt []float32
			if r := tr.cfg.Instance.Rays; r > 0 {
				pt, dt = tr.pt[k*s*s:(k+1)*s*s], tr.dt[k*s*s*r:(k+1)*s*s*r]
			}
			if tr.ht != nil {
				ht = tr.ht[k*s*s*2 : (k+1)*s*s*2]
			}
			fillCrop(&tr.train[i], s, tr.cfg.ObjectCrops, rng, x.Data[k*s*s*c:(k+1)*s*s*c], tr.t[k*s*s:(k+1)*s*s], e, ht, pt, dt, &tr.perms)
		}
	}
	lr := tr.sched.LR(st.Step)
	tr.optim.SetLR(lr) // also what metrics.jsonl records
	// The GPU weighs the classes itself; contact weights stay on the CPU,
	// and the hv head's loss runs on the host (stepHV).
	if tr.gpu != nil && !tr.cfg.Instance.HV {
		return tr.gpu.step(tr, lr)
	}
	if tr.cfg.Instance.Rays == 0 { // U-Net's weight map: the class weight plus w0 times the contact term
		tr.rw = resize(tr.rw, len(tr.t))
		for o, y := range tr.t {
			tr.rw[o] = tr.classW[y]
			if w0 > 0 {
				tr.rw[o] += w0 * tr.e[o]
			}
		}
		tr.ce.RowWeight = tr.rw
		tr.hv.ce.RowWeight = tr.rw
	}
	if tr.gpu != nil {
		return tr.gpu.stepHV(tr, lr)
	}
	tr.optim.ZeroGrad()
	out := tr.model.Net.Forward(x)
	var loss float32
	switch {
	case tr.cfg.Instance.Rays > 0:
		loss = tr.star.Forward(out, tr.pt[:len(idx)*s*s], tr.dt[:len(idx)*s*s*tr.cfg.Instance.Rays])
		tr.model.Net.Backward(tr.star.Backward())
	case tr.cfg.Instance.HV:
		loss = tr.hv.Forward(out, tr.t, tr.ht[:len(tr.t)*2])
		tr.model.Net.Backward(tr.hv.Backward())
	default:
		loss = tr.ce.Forward(out, tr.t)
		tr.model.Net.Backward(tr.ce.Backward())
	}
	tr.optim.Step()
	return loss, nil
}

// validate segments the hold-out images and scores them.
func validate(m *Model, val []evalImage) (Summary, []ImageScore) {
	nn.SetTraining(m.Net, false)
	scores := make([]ImageScore, len(val))
	for i, v := range val {
		pred := Segment(v.plane, v.truth.W, v.truth.H, m.Probs, m.Tile, m.Instance)
		scores[i] = Score(v.truth, pred)
		scores[i].Name = v.name
	}
	return Summarize(scores), scores
}

func (tr *trainer) saveCheckpoint(st loopState) error {
	if err := tr.gpu.sync(); err != nil {
		return err
	}
	meta, err := json.Marshal(st)
	if err != nil {
		return err
	}
	sd := nn.StateDict(tr.model.Net)
	for _, t := range tr.optim.State() {
		t.Name = "optim." + t.Name
		sd = append(sd, t)
	}
	return nn.WriteStateFile(filepath.Join(tr.opt.Out, CheckpointFile), sd, map[string]string{"loop": string(meta), "format": "deepscope-segment-checkpoint-1"})
}

func (tr *trainer) loadCheckpoint() (loopState, error) {
	path := filepath.Join(tr.opt.Out, CheckpointFile)
	sd, meta, err := nn.ReadStateFile(path)
	if err != nil {
		return loopState{}, err
	}
	var st loopState
	if err := json.Unmarshal([]byte(meta["loop"]), &st); err != nil {
		return st, fmt.Errorf("segment: %s: bad loop state: %w", path, err)
	}
	var own, opt []nn.NamedTensor
	for _, t := range sd {
		if name, ok := strings.CutPrefix(t.Name, "optim."); ok {
			t.Name = name
			opt = append(opt, t)
		} else {
			own = append(own, t)
		}
	}
	if err := nn.LoadStateDict(tr.model.Net, own, true); err != nil {
		return st, fmt.Errorf("segment: %s: %w", path, err)
	}
	if err := tr.optim.LoadState(opt); err != nil {
		return st, fmt.Errorf("segment: %s: %w", path, err)
	}
	return st, nil
}

// ReadMetrics reads every EpochLog of a run.
func ReadMetrics(dir string) ([]EpochLog, error) {
	return jsonl.ReadFile[EpochLog](filepath.Join(dir, MetricsFile))
}

func writeMetrics(dir string, logs []EpochLog) error {
	return jsonl.WriteFile(filepath.Join(dir, MetricsFile), logs)
}

func (tr *trainer) appendMetrics(l EpochLog) error {
	logs, err := ReadMetrics(tr.opt.Out)
	if err != nil {
		return err
	}
	return writeMetrics(tr.opt.Out, append(logs, l))
}
