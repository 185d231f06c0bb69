package segment

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"

	"github.com/deepscope/deepscope/models"
	"github.com/deepscope/deepscope/nn"
	"github.com/deepscope/deepscope/tensor"
	"github.com/deepscope/deepscope/transform"
)

// Model is a U-Net with a three-class (background / interior / boundary) or
// star-convex head (Instance.Rays) and the settings that turn its output
// into objects.
type Model struct {
	Net      *models.UNet
	Depth    int            // levels of the U-Net: inputs are padded to multiples of 2^Depth
	Channels int            // input channels: 1 (Normalize) or 3 (NormalizeColour)
	Tile     TileConfig     // windows for Segment
	Instance InstanceConfig // how probabilities become objects
	TTA      bool           // average over the four quarter turns
	// Weights is the file the weights were read from (Load), if any.
	Weights string

	x *tensor.Tensor
}

// NewModel builds an untrained model for cfg (after WithDefaults), with
// weights drawn from rng.
func NewModel(rng *rand.Rand, cfg Config) *Model {
	net := models.NewUNet(rng, models.UNetConfig{InChannels: cfg.InChannels(), Classes: cfg.Instance.Outputs(), Base: cfg.Base, Depth: cfg.Depth})
	return &Model{Net: net, Depth: cfg.Depth, Channels: cfg.InChannels(), Tile: cfg.Tile, Instance: cfg.Instance, TTA: cfg.TTA}
}

// Load reads a run directory's model in evaluation mode: its last weights
// (a run's model), or the weights its thresholds were tuned for when
// run.json records others (RunInfo.Tuning, whose thresholds Load uses in
// place of the run's configured ones). Runs tuned before the tuned file
// was recorded tuned their best weights, which Load then reads.
func Load(dir string) (*Model, *RunInfo, error) {
	ri, err := ReadRunInfo(dir)
	if err != nil {
		return nil, nil, err
	}
	file := CheckpointFile
	switch {
	case ri.Tuning != nil && ri.Tuning.Weights != "":
		file = ri.Tuning.Weights
	case ri.Tuning != nil && fileExists(filepath.Join(dir, BestFile)):
		file = BestFile
	}
	m, err := loadModel(dir, ri, file)
	return m, ri, err
}

// loadModel builds ri's model with the weights of dir's file, in
// evaluation mode, with ri's tuned thresholds if it has them.
func loadModel(dir string, ri *RunInfo, file string) (*Model, error) {
	m := NewModel(rand.New(rand.NewPCG(0, 0)), ri.Config.WithDefaults())
	if ri.Tuning != nil {
		m.Instance = ri.Tuning.Instance.WithDefaults()
	}
	m.Weights = filepath.Join(dir, file)
	if err := loadWeights(m.Net, m.Weights); err != nil {
		return nil, err
	}
	nn.SetTraining(m.Net, false)
	return m, nil
}

// loadWeights reads a network's weights from a weights file or a
// checkpoint (whose optimizer state it leaves out).
func loadWeights(net *models.UNet, path string) error {
	sd, _, err := nn.ReadStateFile(path)
	if err != nil {
		return fmt.Errorf("segment: %s holds no weights: %w", filepath.Dir(path), err)
	}
	var own []nn.NamedTensor
	for _, t := range sd {
		if !strings.HasPrefix(t.Name, "optim.") {
			own = append(own, t)
		}
	}
	if err := nn.LoadStateDict(net, own, true); err != nil {
		return fmt.Errorf("segment: %s: %w", path, err)
	}
	return nil
}

// Segment finds the objects of an image ([H, W, C] in [0, 1]): Normalize
// (or NormalizeColour), then the package's Segment with the model's
// probabilities.
func (m *Model) Segment(img *tensor.Tensor) *Labels {
	h, w := img.Dim(0), img.Dim(1)
	return Segment(m.Normalize(img), w, h, m.Probs, m.Tile, m.Instance)
}

// Normalize turns an image into the network's input: Normalize's grey
// plane, or NormalizeColour's three channels for a colour model.
func (m *Model) Normalize(img *tensor.Tensor) []float32 { return normalize(img, m.Channels) }

// Probs returns the head's output for a normalised window of w x h pixels
// of m.Channels values each (a ProbFunc): the class probabilities, or for
// a star-convex head the object probability and the ray distances in
// pixels. The window is padded by reflection to multiples of 2^Depth; with
// TTA the outputs are averaged over its four quarter turns (the rays
// turned with them). The network must be in evaluation mode
// (nn.SetTraining false).
func (m *Model) Probs(plane []float32, w, h int) []float32 {
	c := max(m.Channels, 1)
	if len(plane) != w*h*c {
		panic(fmt.Sprintf("segment: Probs: %d values for %dx%d pixels of %d channels", len(plane), w, h, c))
	}
	mult := 1 << m.Depth
	ph, pw := (h+mult-1)/mult*mult, (w+mult-1)/mult*mult
	in := tensor.New(ph, pw, c)
	for y := 0; y < ph; y++ {
		sy := reflect(y, h)
		for x := 0; x < pw; x++ {
			src := (sy*w + reflect(x, w)) * c
			for k := range c {
				in.Data[(y*pw+x)*c+k] = 2*plane[src+k] - 1
			}
		}
	}
	turns := 1
	if m.TTA {
		turns = 4
	}
	no := m.Instance.Outputs()
	sum := make([]float32, ph*pw*no)
	for k := 0; k < turns; k++ {
		x := transform.Rot90(in, k)
		xt := tensor.Ensure(&m.x, 1, x.Dim(0), x.Dim(1), c)
		copy(xt.Data, x.Data)
		p := m.activate(m.Net.Forward(xt), k)
		back := transform.Rot90(p.Reshape(x.Dim(0), x.Dim(1), no), -k)
		tensor.Axpy(1/float32(turns), back.Values(), sum)
	}
	out := make([]float32, w*h*no)
	for y := 0; y < h; y++ {
		copy(out[y*w*no:(y+1)*w*no], sum[y*pw*no:(y*pw+w)*no])
	}
	return out
}

// activate turns the network's raw output into the head's values: a
// softmax over the classes, or the sigmoid of the object logit and the
// distances in pixels (at least 0). For an input turned by Rot90(k) the
// rays are renumbered so that each names its direction in the unturned
// image. The hv head's maps are turned back likewise and mapped from
// [-1, 1] (clipped) to [0, 1], after the class probabilities.
func (m *Model) activate(raw *tensor.Tensor, k int) *tensor.Tensor {
	if m.Instance.HV {
		return hvActivate(raw, k)
	}
	if m.Instance.Rays == 0 {
		return nn.Softmax(raw)
	}
	n, r := m.Instance.Outputs(), m.Instance.Rays
	perm := rot90Perm(r, k)
	v := raw.Contiguous().Values()
	out := tensor.New(raw.Shape...)
	for p := 0; p < len(v); p += n {
		out.Data[p] = 1 / (1 + tensor.Exp32(-v[p]))
		for j := range r {
			out.Data[p+1+perm[j]] = max(v[p+1+j], 0)
		}
	}
	return out
}

// rot90Perm returns the ray of the unturned image that ray j of an image
// turned by transform.Rot90(k) points along.
func rot90Perm(n, k int) []int {
	down, right := rot90Steps(k)
	fwd := rayPerm(n, down, right) // unturned ray -> turned ray
	inv := make([]int, n)
	for k, j := range fwd {
		inv[j] = k
	}
	return inv
}

// rot90Steps returns where one step down and one step right in an image
// go, as steps (rows, columns), once the image is turned by
// transform.Rot90(k), found by turning a 3 x 3 grid of pixel numbers.
func rot90Steps(k int) (down, right [2]int) {
	g := tensor.New(3, 3, 1)
	for i := range g.Data {
		g.Data[i] = float32(i)
	}
	t := transform.Rot90(g, k)
	// where unturned pixel (1+dy, 1+dx) went, as a step from the centre
	step := func(dy, dx int) [2]int {
		for i, v := range t.Data {
			if int(v) == (1+dy)*3+1+dx {
				return [2]int{i/3 - 1, i%3 - 1}
			}
		}
		panic("segment: rot90Steps: pixel lost")
	}
	return step(1, 0), step(0, 1)
}

// reflect maps any index to [0, n) by mirroring at the edges without
// repeating the edge pixel (..., 2, 1, 0, 1, 2, ..., n-1, n-2, ...).
func reflect(i, n int) int {
	if n == 1 {
		return 0
	}
	period := 2 * (n - 1)
	i %= period
	if i < 0 {
		i += period
	}
	if i >= n {
		i = period - i
	}
	return i
}
