package train

import (
	"fmt"
	"iter"
	"math"
	"math/rand/v2"
	"sync"

	"github.com/deepscope/deepscope/data"
	"github.com/deepscope/deepscope/privacy"
	"github.com/deepscope/deepscope/tensor"
)

// poissonBatches yields DP-SGD's batches: each step includes every
// training image independently with probability q, so batch sizes vary.
// The images are decoded and preprocessed once and kept as 8 bits in
// memory (N·H·W·C bytes, as the ordinary loader's cache); augmentation and
// normalisation are applied per step.
type poissonBatches struct {
	pix     []byte // image i at pix[i*per : (i+1)*per]
	h, w, c int
	labels  []int
	targets []float32 // [N, classes] for multi-label data, else nil
	classes int
	q       float64
	spe     int
	seed    uint64
	aug     data.Transform
	scale   []float32 // normalisation as v*scale + shift
	shift   []float32
	rng     *rand.Rand

	idx   []int
	buf   []float32
	tbuf  []float32
	batch data.Batch
}

// newPoissonBatches reads every image of ds once through a data.Loader.
func newPoissonBatches(ds *data.Dataset, info *RunInfo, cfg Config, q float64, spe int, rng *rand.Rand) (*poissonBatches, error) {
	l, err := data.NewLoader(ds, data.LoaderConfig{BatchSize: 256, Workers: cfg.Workers, Preprocess: info.Preprocess()})
	if err != nil {
		return nil, err
	}
	p := &poissonBatches{q: q, spe: spe, seed: cfg.Seed, rng: rng, aug: Augmentation(cfg.Augment, cfg.Size),
		labels: make([]int, ds.Len())}
	for i, it := range ds.Items {
		p.labels[i] = it.Label
	}
	if ds.MultiLabel {
		p.classes = len(ds.Classes)
		p.targets = make([]float32, ds.Len()*p.classes)
		for i, it := range ds.Items {
			copy(p.targets[i*p.classes:(i+1)*p.classes], it.Labels)
		}
	}
	for b, err := range l.Epoch(0, 0) {
		if err != nil {
			return nil, err
		}
		if p.pix == nil {
			p.h, p.w, p.c = b.X.Dim(1), b.X.Dim(2), b.X.Dim(3)
			p.pix = make([]byte, ds.Len()*p.h*p.w*p.c)
		}
		per := p.h * p.w * p.c
		x := b.X.Values()
		for j, idx := range b.Indices {
			dst := p.pix[idx*per : (idx+1)*per]
			for k, v := range x[j*per : (j+1)*per] {
				dst[k] = uint8(math.Round(float64(v) * 255))
			}
		}
	}
	for k, s := range info.Std {
		p.scale = append(p.scale, 1/s)
		p.shift = append(p.shift, -info.Mean[k]/s)
	}
	return p, nil
}

// Epoch yields the batches of epoch e from batch start on, as
// data.Loader.Epoch does; each is valid until the next.
func (p *poissonBatches) Epoch(e, start int) iter.Seq2[*data.Batch, error] {
	return func(yield func(*data.Batch, error) bool) {
		for k := start; k < p.spe; k++ {
			b, err := p.draw(e, k)
			if !yield(b, err) || err != nil {
				return
			}
		}
	}
}

// draw samples and builds batch k of epoch e.
func (p *poissonBatches) draw(e, k int) (*data.Batch, error) {
	n := len(p.labels)
	p.idx = privacy.PoissonSample(p.idx, n, p.q, p.rng)
	per := p.h * p.w * p.c
	m := len(p.idx)
	if cap(p.buf) < m*per {
		p.buf = make([]float32, m*per)
	}
	b := &p.batch
	b.Epoch, b.Index = e, k
	b.Indices = append(b.Indices[:0], p.idx...)
	b.Labels = b.Labels[:0]
	for _, i := range p.idx {
		b.Labels = append(b.Labels, p.labels[i])
	}
	b.X = tensor.FromSlice(p.buf[:m*per], m, p.h, p.w, p.c)
	b.Targets = nil
	if p.targets != nil {
		if cap(p.tbuf) < m*p.classes {
			p.tbuf = make([]float32, m*p.classes)
		}
		t := p.tbuf[:m*p.classes]
		for j, i := range p.idx {
			copy(t[j*p.classes:(j+1)*p.classes], p.targets[i*p.classes:(i+1)*p.classes])
		}
		b.Targets = tensor.FromSlice(t, m, p.classes)
	}
	var mu sync.Mutex
	var firstErr error
	step := e*p.spe + k
	tensor.Parallel(m, 4, func(lo, hi int) {
		pcg := rand.NewPCG(0, 0)
		rng := rand.New(pcg)
		img := tensor.New(p.h, p.w, p.c)
		for j := lo; j < hi; j++ {
			i := p.idx[j]
			src := p.pix[i*per : (i+1)*per]
			out := img
			for t, v := range src {
				img.Data[t] = float32(v) / 255
			}
			if p.aug != nil {
				data.SampleRand(pcg, p.seed, step, i)
				out = p.aug.Apply(img, rng).Contiguous()
				if out.Len() != per || out.Dim(0) != p.h || out.Dim(1) != p.w {
					mu.Lock()
					firstErr = fmt.Errorf("train: augmentation turned a %dx%dx%d image into %v", p.h, p.w, p.c, out.Shape)
					mu.Unlock()
					return
				}
			}
			dst := b.X.Data[j*per : (j+1)*per]
			for t, v := range out.Values() {
				if c := t % p.c; c < len(p.scale) {
					v = v*p.scale[c] + p.shift[c]
				}
				dst[t] = v
			}
		}
	})
	return b, firstErr
}
