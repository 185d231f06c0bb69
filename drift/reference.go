package drift

import (
	"encoding/json"
	"fmt"
	"iter"
	"math/rand/v2"
	"os"
	"slices"
	"time"

	"github.com/deepscope/deepscope/data"
	"github.com/deepscope/deepscope/nn"
	"github.com/deepscope/deepscope/tensor"
	"github.com/deepscope/deepscope/train"
)

// FileName is the reference's file in a run directory.
const FileName = "drift.json"

// formatVersion changes when Reference's meaning changes; older files are
// rebuilt.
const formatVersion = 1

// Limits on what a Reference keeps.
const (
	MaxImages     = 1000 // reference images measured (a seeded sample beyond)
	MaxEmbeddings = 256  // embeddings kept for the MMD test
)

// Feature is the reference distribution of one scalar feature.
type Feature struct {
	Name   string    `json:"name"`
	Values []float64 `json:"values"`    // sorted, one per reference image
	Edges  []float64 `json:"psi_edges"` // inner edges of the PSI bins
	Shares []float64 `json:"psi_shares"`
}

// NewFeature returns the reference distribution of the values v (sorted in
// place), with up to 10 quantile bins for the PSI.
func NewFeature(name string, v []float64) Feature {
	slices.Sort(v)
	edges := psiBins(v)
	return Feature{Name: name, Values: v, Edges: edges, Shares: binShares(edges, v)}
}

// Reference is the summary of a model's training distribution that a
// Monitor compares served images with.
type Reference struct {
	Format int `json:"format"`
	// Model identifies the weights the model-dependent parts (confidence,
	// embeddings) were computed with (serve uses a hash of the file).
	Model    string    `json:"model"`
	Source   string    `json:"source"` // what the images were, for people
	Images   int       `json:"images"`
	Created  time.Time `json:"created"`
	Channels int       `json:"channels"`
	// Temperature is the run's softmax temperature the confidences were
	// computed with (0: none); a run calibrated since needs a new reference.
	Temperature float64   `json:"temperature,omitempty"`
	Features    []Feature `json:"features"` // StatNames order, confidence last
	// Embeddings is a sample of the reference embeddings and Scale the
	// Gaussian kernel's 2σ² (the median squared distance between them).
	Embeddings [][]float32 `json:"embeddings"`
	Scale      float64     `json:"kernel_scale"`
}

// Build measures the images imgs yields (decoded, any size, values in
// [0, 1]) with model m: each is prepared as m.Prepare does and run through
// m.Net in batches of 64. m must not be used by anything else meanwhile.
// An error from the sequence stops the build and is returned. model and
// source are recorded as Model and Source.
func Build(m *train.Model, imgs iter.Seq2[*tensor.Tensor, error], model, source string) (*Reference, error) {
	s, c := m.Info.Config.Size, m.Info.Channels
	const chunk = 64
	var stats [][]float64
	var emb [][]float32
	var xb *tensor.Tensor
	var pending []*tensor.Tensor
	flush := func() {
		if len(pending) == 0 {
			return
		}
		x := tensor.Ensure(&xb, len(pending), s, s, c)
		for i, p := range pending {
			copy(x.Data[i*s*s*c:], p.Data)
		}
		nn.SetTraining(m.Net, false)
		logits, e := Embed(m.Net, x)
		probs := Activate(logits, m.Info)
		for i, p := range pending {
			st := ImageStats(p, m.Info.Mean, m.Info.Std)
			stats = append(stats, append(st, Confidence(probs[i], m.Info.MultiLabel)))
		}
		emb = append(emb, e...)
		pending = pending[:0]
	}
	for img, err := range imgs {
		if err != nil {
			return nil, err
		}
		if len(stats)+len(pending) >= MaxImages {
			break
		}
		pending = append(pending, m.Prepare(img))
		if len(pending) == chunk {
			flush()
		}
	}
	flush()
	if len(stats) < 20 {
		return nil, fmt.Errorf("drift: %d reference images; at least 20 are needed", len(stats))
	}
	ref := &Reference{Format: formatVersion, Model: model, Source: source, Images: len(stats), Temperature: m.Info.Temperature,
		Created: time.Now().UTC().Truncate(time.Second), Channels: c}
	for k, name := range StatNames(c) {
		v := make([]float64, len(stats))
		for i, st := range stats {
			v[i] = st[k]
		}
		ref.Features = append(ref.Features, NewFeature(name, v))
	}
	rng := rand.New(rand.NewPCG(uint64(len(emb)), 0xd21f7))
	rng.Shuffle(len(emb), func(i, j int) { emb[i], emb[j] = emb[j], emb[i] })
	ref.Embeddings = emb[:min(len(emb), MaxEmbeddings)]
	ref.Scale = medianSqDist(ref.Embeddings)
	return ref, nil
}

// Activate returns train.Activate's probabilities for logits [N, K] as one
// row per image.
func Activate(logits *tensor.Tensor, info *train.RunInfo) [][]float64 {
	n := logits.Dim(0)
	k := logits.Len() / max(n, 1)
	p := train.Activate(logits, info).Values()
	out := make([][]float64, n)
	for i := range out {
		row := make([]float64, k)
		for j := range row {
			row[j] = float64(p[i*k+j])
		}
		out[i] = row
	}
	return out
}

// Save writes r to path atomically (a temporary file, then a rename).
func (r *Reference) Save(path string) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if err := data.WriteFileAtomic(path, append(b, '\n')); err != nil {
		return fmt.Errorf("drift: %w", err)
	}
	return nil
}

// Load reads a reference written by Save. A file of another format
// version or a malformed one is an error.
func Load(path string) (*Reference, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("drift: %w", err)
	}
	var r Reference
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("drift: %s: %w", path, err)
	}
	if r.Format != formatVersion {
		return nil, fmt.Errorf("drift: %s: format %d, want %d", path, r.Format, formatVersion)
	}
	if len(r.Features) != len(StatNames(r.Channels)) {
		return nil, fmt.Errorf("drift: %s: %d features for %d channels", path, len(r.Features), r.Channels)
	}
	for _, f := range r.Features {
		if len(f.Values) == 0 || len(f.Shares) != len(f.Edges)+1 || !slices.IsSorted(f.Values) {
			return nil, fmt.Errorf("drift: %s: feature %q is malformed", path, f.Name)
		}
	}
	return &r, nil
}
