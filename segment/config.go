package segment

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/deepscope/deepscope/data"
)

// Config is everything that decides a training run's result. The zero
// value of a field means its default (see WithDefaults).
type Config struct {
	Data   string  `json:"data"`   // dataset folder (see Open)
	Epochs int     `json:"epochs"` // passes over the training images, one random crop of each per pass
	Size   int     `json:"size"`   // side of the training crops (a multiple of 2^Depth)
	Base   int     `json:"base"`   // U-Net channels at the top level
	Depth  int     `json:"depth"`  // U-Net levels down
	Batch  int     `json:"batch"`
	LR     float64 `json:"lr"` // AdamW's peak rate, after one epoch of warm-up, then cosine to 0
	// WeightDecay is AdamW's decoupled decay (biases and norms exempt).
	WeightDecay float64 `json:"weight_decay"`
	// BoundaryWeight weighs boundary pixels in the loss, against 1 for
	// background and interior: boundaries are thin and decide where
	// touching objects part.
	BoundaryWeight float64 `json:"boundary_weight"`
	// ContactWeight is w0 of U-Net's weight map (Ronneberger et al. 2015):
	// each pixel's loss weight gains w0·exp(−(d1+d2)²/(2σ²)), d1 and d2
	// its distances to the nearest two objects and σ 5 px (see
	// contactMap), so the contacts and narrow gaps that keep touching
	// objects apart weigh up to w0 more. 0 turns it off; classes head only.
	ContactWeight float64 `json:"contact_weight,omitempty"`
	// Head is what the U-Net predicts per pixel: "classes" (background,
	// interior, boundary, grown from seeds), "hv" (the classes plus
	// HoVer-Net's horizontal and vertical distance maps, whose steep
	// falls part touching objects; see hv.go; the default) or "star" (an
	// object probability and the distances to the object's edge along
	// Instance.Rays directions, StarDist's star-convex polygons; see
	// starInstances). BoundaryWeight applies to the classes only.
	Head string `json:"head,omitempty"`
	// Colour feeds the network the image's three colour channels (see
	// NormalizeColour) instead of one grey plane, so that stain hue can
	// tell nuclei from cytoplasm in brightfield and H&E images.
	Colour bool `json:"colour,omitempty"`
	// Zoom makes each training crop show its image zoomed by a random
	// factor, log-uniform in [1/(1+Zoom), 1+Zoom]; 0 keeps the images'
	// own scale.
	Zoom float64 `json:"zoom,omitempty"`
	// ObjectCrops is the fraction of training crops placed on a randomly
	// chosen object (any placement that has one of its pixels inside),
	// the others anywhere; nnU-Net places a third of its patches on
	// foreground so that sparse images still teach the objects. 0 places
	// every crop anywhere.
	ObjectCrops float64 `json:"object_crops,omitempty"`
	// Balance evens out the kinds of image (grey or colour, fluorescence
	// or brightfield) in the crops an epoch draws: each kind's share is
	// proportional to n^(1-Balance) for its n training images, so 0 keeps
	// every image's one crop an epoch (the kinds in proportion to their
	// images), 1 gives each kind the same share, and 0.5 shares in
	// proportion to √n. Above 0, the epoch's images are drawn with
	// replacement.
	Balance float64 `json:"balance,omitempty"`
	// Holdout is the fraction of images kept out of training for
	// validation, chosen with Seed (or HoldoutSeed) and recorded in
	// run.json.
	Holdout float64 `json:"holdout"`
	Seed    uint64  `json:"seed"`
	// HoldoutSeed, when not 0, draws the hold-out in place of Seed, so
	// that runs of different Seeds (weights and crops) can share one
	// hold-out and their spread be measured on it.
	HoldoutSeed uint64 `json:"holdout_seed,omitempty"`
	// ValEvery is how many epochs pass between validations on the hold-out
	// images (the last epoch is always validated).
	ValEvery int `json:"val_every"`
	// CheckpointEvery is how many steps pass between mid-epoch checkpoints
	// (0: at epoch ends only).
	CheckpointEvery int            `json:"checkpoint_every"`
	Tile            TileConfig     `json:"tile"`
	Instance        InstanceConfig `json:"instance"`
	// TTA averages the probabilities over the four quarter turns of each
	// window at inference (four times the work).
	TTA bool `json:"tta"`
	// NoTune keeps Instance's thresholds as they are; by default a
	// finished run tunes them on its hold-out images (see TuneRun).
	NoTune bool `json:"no_tune,omitempty"`
}

// Defaults returns the defaults: a U-Net of 16 base channels and 4 levels
// on 128-pixel crops, small enough to train on a few CPU cores, with the
// hv head, which beat the three-class head on both DSB2018 hold-outs
// measured, and the star head by more (see README). The peak learning
// rate, 1e-3, measured best of 4e-3, 2e-3, 1e-3 and 5e-4 (5e-4 ties) on
// DSB2018 hold-outs.
func Defaults() Config {
	return Config{Epochs: 50, Size: 128, Base: 16, Depth: 4, Batch: 8, LR: 1e-3, WeightDecay: 1e-4,
		BoundaryWeight: 2, Head: HeadHV, Holdout: 0.1, Seed: 1, ValEvery: 5, CheckpointEvery: 50}
}

// InChannels returns the network's input channels: 3 with Colour, else 1.
func (c Config) InChannels() int {
	if c.Colour {
		return 3
	}
	return 1
}

// WithDefaults fills zero fields with Defaults.
func (c Config) WithDefaults() Config {
	d := Defaults()
	fill := func(v *int, dv int) {
		if *v == 0 {
			*v = dv
		}
	}
	fill(&c.Epochs, d.Epochs)
	fill(&c.Size, d.Size)
	fill(&c.Base, d.Base)
	fill(&c.Depth, d.Depth)
	fill(&c.Batch, d.Batch)
	fill(&c.ValEvery, d.ValEvery)
	for _, f := range []struct {
		v *float64
		d float64
	}{{&c.LR, d.LR}, {&c.BoundaryWeight, d.BoundaryWeight}, {&c.Holdout, d.Holdout}} {
		if *f.v == 0 {
			*f.v = f.d
		}
	}
	if c.Tile.Tile == 0 {
		c.Tile.Tile = max(256, c.Size)
	}
	c.Tile = c.Tile.WithDefaults()
	if c.Head == "" {
		c.Head = d.Head
	}
	if c.Head == HeadStar && c.Instance.Rays == 0 {
		c.Instance.Rays = DefaultRays
	}
	if c.Head == HeadHV {
		c.Instance.HV = true
	}
	c.Instance = c.Instance.WithDefaults()
	return c
}

// Heads of the U-Net (Config.Head).
const (
	HeadClasses = "classes"
	HeadHV      = "hv"
	HeadStar    = "star"
)

// Validate reports options that cannot work.
func (c Config) Validate() error {
	m := 1 << c.Depth
	switch {
	case c.Data == "":
		return fmt.Errorf("segment: no dataset given")
	case c.Epochs < 1 || c.Batch < 1 || c.Base < 1:
		return fmt.Errorf("segment: epochs %d, batch %d, base %d: each must be at least 1", c.Epochs, c.Batch, c.Base)
	case c.Depth < 1 || c.Depth > 6:
		return fmt.Errorf("segment: depth %d outside [1, 6]", c.Depth)
	case c.Size < m || c.Size%m != 0:
		return fmt.Errorf("segment: crop size %d is not a positive multiple of %d (2^depth)", c.Size, m)
	case !(c.Holdout > 0 && c.Holdout < 1):
		return fmt.Errorf("segment: hold-out fraction %g outside (0, 1)", c.Holdout)
	case !(c.ObjectCrops >= 0 && c.ObjectCrops <= 1) || !(c.Balance >= 0 && c.Balance <= 1):
		return fmt.Errorf("segment: object crops %g and balance %g: each must be in [0, 1]", c.ObjectCrops, c.Balance)
	case !(c.Zoom >= 0 && c.Zoom <= 3):
		return fmt.Errorf("segment: zoom %g outside [0, 3]", c.Zoom)
	case !(c.LR > 0) || c.WeightDecay < 0 || !(c.BoundaryWeight > 0):
		return fmt.Errorf("segment: lr %g, weight decay %g and boundary weight %g must be positive", c.LR, c.WeightDecay, c.BoundaryWeight)
	case !(c.ContactWeight >= 0 && c.ContactWeight <= 100):
		return fmt.Errorf("segment: contact weight %g outside [0, 100]", c.ContactWeight)
	case c.Head == HeadStar && c.ContactWeight > 0:
		return fmt.Errorf("segment: --contact-weight weighs the %q head's classes; the %q head has none", HeadClasses, HeadStar)
	case c.ValEvery < 1 || c.CheckpointEvery < 0:
		return fmt.Errorf("segment: val_every %d must be at least 1 and checkpoint_every %d at least 0", c.ValEvery, c.CheckpointEvery)
	case c.Head != HeadClasses && c.Head != HeadHV && c.Head != HeadStar:
		return fmt.Errorf("segment: head %q: want %q, %q or %q", c.Head, HeadClasses, HeadHV, HeadStar)
	case c.Head != HeadStar && c.Instance.Rays != 0:
		return fmt.Errorf("segment: %d rays given for the %q head; rays belong to the %q head", c.Instance.Rays, c.Head, HeadStar)
	case c.Instance.HV != (c.Head == HeadHV):
		return fmt.Errorf("segment: the %q head with thresholds for the %q head's maps (or without)", c.Head, HeadHV)
	case c.Head == HeadHV && c.Zoom > 0:
		return fmt.Errorf("segment: --zoom is not supported with the %q head (its maps are measured at the image's own scale)", HeadHV)
	case c.Head == HeadStar && (c.Instance.Rays < 4 || c.Instance.Rays%4 != 0 || c.Instance.Rays > 256):
		return fmt.Errorf("segment: %d rays: want a multiple of 4 in [4, 256], so that quarter turns and flips map rays to rays", c.Instance.Rays)
	case c.Head == HeadStar && c.Zoom > 0:
		return fmt.Errorf("segment: --zoom is not supported with the %q head (its ray targets are measured at the image's own scale)", HeadStar)
	case !(c.Instance.MinConfidence >= 0 && c.Instance.MinConfidence < 1):
		return fmt.Errorf("segment: minimum confidence %g outside [0, 1)", c.Instance.MinConfidence)
	case c.Head == HeadStar && c.Instance.MinConfidence > 0:
		return fmt.Errorf("segment: --min-confidence applies to the %q and %q heads only", HeadClasses, HeadHV)
	case !(c.Instance.NMS > 0 && c.Instance.NMS < 1) && c.Head == HeadStar:
		return fmt.Errorf("segment: NMS threshold %g outside (0, 1)", c.Instance.NMS)
	}
	return c.Tile.Validate()
}

// Files of a segmentation run directory.
const (
	RunFile        = "run.json"               // RunInfo
	CheckpointFile = "checkpoint.safetensors" // model, optimizer and loop state
	BestFile       = "best.safetensors"       // weights with the best hold-out score
	MetricsFile    = "metrics.jsonl"          // one EpochLog per line
	EvalFile       = "eval.json"
	ReportFile     = "report.html"
)

// RunInfo is what run.json holds: how the model was made and on which
// images, so that eval, predict and a resumed run agree with training.
type RunInfo struct {
	Config      Config   `json:"config"`
	Kind        string   `json:"kind"` // "segment"
	Fingerprint string   `json:"data_fingerprint"`
	Train       []string `json:"train"`   // names of the training images
	Holdout     []string `json:"holdout"` // names of the hold-out images
	Threads     int      `json:"threads"`
	// Device is where the run started training: "cuda" for a GPU, empty
	// for the CPU.
	Device  string `json:"device,omitempty"`
	Version string `json:"deepscope_version"`
	// Tuning holds the thresholds tuned on the hold-out after training,
	// which Load uses in place of Config.Instance; nil if not tuned.
	Tuning *Tuning `json:"tuning,omitempty"`
}

// ReadRunInfo reads dir/run.json.
func ReadRunInfo(dir string) (*RunInfo, error) {
	b, err := os.ReadFile(filepath.Join(dir, RunFile))
	if err != nil {
		return nil, fmt.Errorf("segment: %s is not a run directory: %w", dir, err)
	}
	var ri RunInfo
	if err := json.Unmarshal(b, &ri); err != nil {
		return nil, fmt.Errorf("segment: %s: %w", filepath.Join(dir, RunFile), err)
	}
	if ri.Config.Head == "" { // written before heads were named, when there was one
		ri.Config.Head = HeadClasses
	}
	if ri.Kind != "segment" {
		return nil, fmt.Errorf("segment: %s holds a %q run, not a segmentation run", dir, ri.Kind)
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

// holdoutSeed returns the seed that draws the hold-out: HoldoutSeed, or
// Seed when it is 0.
func (c Config) holdoutSeed() uint64 {
	if c.HoldoutSeed != 0 {
		return c.HoldoutSeed
	}
	return c.Seed
}

// SplitHoldout chooses round(frac * n) of the samples, at least one and
// leaving at least one, with a generator seeded by seed, and returns the
// names of the rest and of those chosen, each in the dataset's order.
func SplitHoldout(samples []Sample, frac float64, seed uint64) (train, holdout []string) {
	n := len(samples)
	k := min(max(int(frac*float64(n)+0.5), 1), n-1)
	perm := rand.New(rand.NewPCG(seed, 0x401d0)).Perm(n)
	chosen := make([]bool, n)
	for _, i := range perm[:max(k, 0)] {
		chosen[i] = true
	}
	for i, s := range samples {
		if chosen[i] {
			holdout = append(holdout, s.Name)
		} else {
			train = append(train, s.Name)
		}
	}
	return train, holdout
}

// pick returns the samples whose names are listed, in the listed order; a
// name the dataset lacks is an error.
func pick(ds *Dataset, names []string) ([]Sample, error) {
	byName := map[string]Sample{}
	for _, s := range ds.Samples {
		byName[s.Name] = s
	}
	out := make([]Sample, 0, len(names))
	for _, n := range names {
		s, ok := byName[n]
		if !ok {
			return nil, fmt.Errorf("segment: %s has no image %s, which the run lists", ds.Dir, n)
		}
		out = append(out, s)
	}
	return out, nil
}

// headName describes cfg's head in words, for logs and reports.
func headName(cfg Config) string {
	switch {
	case cfg.Instance.Rays > 0:
		return fmt.Sprintf("star-convex (%d rays)", cfg.Instance.Rays)
	case cfg.Instance.HV:
		return "three-class with distance maps (hv)"
	}
	return "three-class"
}
