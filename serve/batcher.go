package serve

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/deepscope/deepscope/drift"
	"github.com/deepscope/deepscope/explain"
	"github.com/deepscope/deepscope/tensor"
	"github.com/deepscope/deepscope/train"
)

// errQueueFull is returned by submit when the queue has no room.
var errQueueFull = errors.New("serve: queue full")

// job is one image waiting for the model.
type job struct {
	ctx     context.Context
	img     *tensor.Tensor // as decoded, [H, W, C]
	x       *tensor.Tensor // prepared for the model version below, [S, S, C]
	stats   []float64      // drift.ImageStats of x
	version string
	queued  time.Time

	explain bool // Grad-CAM instead of a plain prediction
	class   int  // class to explain; -1 for the top one
	method  string

	done chan result // buffered: the batcher never blocks on it
}

// result is the batcher's answer to one job.
type result struct {
	model *loaded
	probs []float64
	class int            // explained class
	heat  *tensor.Tensor // Grad-CAM map [S, S] in [0, 1]
	err   error
}

// swapReq asks the batcher to serve another model from its next batch.
type swapReq struct {
	l   *loaded
	ack chan struct{}
}

// batcher owns the model: its goroutine alone runs it, one batch at a
// time, and swaps it between batches.
type batcher struct {
	s        *Server
	jobs     chan *job
	pending  atomic.Int64 // jobs reserved and not yet taken
	capacity int64
	swaps    chan swapReq
	quit     chan struct{}
	stopped  chan struct{}

	// Owned by the batcher goroutine.
	model   *loaded
	held    *job // an explain job that ended a gathering
	last    int  // size of the last batch
	xb, tta *tensor.Tensor
}

func newBatcher(s *Server, l *loaded) *batcher {
	return &batcher{s: s, jobs: make(chan *job, s.cfg.Queue), capacity: int64(s.cfg.Queue),
		swaps: make(chan swapReq), quit: make(chan struct{}), stopped: make(chan struct{}), model: l}
}

// depth returns the number of images waiting.
func (b *batcher) depth() int64 { return b.pending.Load() }

// submit queues all of js or none: errQueueFull when they do not fit.
func (b *batcher) submit(js []*job) error {
	n := int64(len(js))
	for {
		p := b.pending.Load()
		if p+n > b.capacity {
			return errQueueFull
		}
		if b.pending.CompareAndSwap(p, p+n) {
			break
		}
	}
	now := time.Now()
	for _, j := range js {
		j.queued = now
		b.jobs <- j // never blocks: the channel holds capacity jobs and at most pending are in it
	}
	return nil
}

// swap makes l the model of the next batch and returns once it is.
func (b *batcher) swap(l *loaded) {
	r := swapReq{l, make(chan struct{})}
	select {
	case b.swaps <- r:
		<-r.ack
	case <-b.stopped:
	}
}

// stop ends the batcher after the jobs already queued.
func (b *batcher) stop() {
	select {
	case <-b.quit:
	default:
		close(b.quit)
	}
	<-b.stopped
}

func (b *batcher) take() *job {
	select {
	case j := <-b.jobs:
		b.pending.Add(-1)
		return j
	default:
		return nil
	}
}

func (b *batcher) run() {
	defer close(b.stopped)
	maxBatch, maxWait := b.s.cfg.MaxBatch, b.s.cfg.MaxWait
	batch := make([]*job, 0, maxBatch)
	var timer *time.Timer
	for {
		var first *job
		if b.held != nil {
			first, b.held = b.held, nil
		} else {
			select {
			case r := <-b.swaps:
				b.model = r.l
				close(r.ack)
				continue
			case first = <-b.jobs:
				b.pending.Add(-1)
			case <-b.quit:
				for j := b.take(); j != nil; j = b.take() {
					b.runJobs([]*job{j})
				}
				return
			}
		}
		batch = append(batch[:0], first)
		if !first.explain {
			b.gather(&batch, maxBatch, maxWait, &timer)
		}
		b.last = len(batch)
		b.runJobs(batch)
		clear(batch)
	}
}

// gather adds waiting prediction jobs to batch until it holds maxBatch or
// maxWait has passed since the first; an explain job ends the gathering
// and is held for the next round. Jobs already queued join at once. The
// batcher then waits for more only when some may come: other requests are
// being read and decoded, or the last batch held several images (clients
// that sent together answer together). A lone client thus does not pay
// maxWait on every request, while concurrent ones still share batches.
func (b *batcher) gather(batch *[]*job, maxBatch int, maxWait time.Duration, timer **time.Timer) {
	add := func(j *job) bool {
		if j.explain {
			b.held = j
			return false
		}
		*batch = append(*batch, j)
		return len(*batch) < maxBatch
	}
	// What is queued already joins without waiting.
	for len(*batch) < maxBatch {
		j := b.take()
		if j == nil {
			break
		}
		if !add(j) {
			return
		}
	}
	if len(*batch) >= maxBatch || maxWait <= 0 || b.last <= 1 && b.s.arriving.Load() == 0 {
		return
	}
	if *timer == nil {
		*timer = time.NewTimer(maxWait)
	} else {
		(*timer).Reset(maxWait)
	}
	defer (*timer).Stop()
	for {
		select {
		case j := <-b.jobs:
			b.pending.Add(-1)
			if !add(j) {
				return
			}
		case <-(*timer).C:
			return
		}
	}
}

// runJobs runs one batch (or one explain job) and answers every job in it.
// A panic in the model is answered as an error, not a crash.
func (b *batcher) runJobs(batch []*job) {
	live := batch[:0:0]
	for _, j := range batch {
		if j.ctx.Err() != nil {
			continue // its request has given up
		}
		live = append(live, j)
	}
	if len(live) == 0 {
		return
	}
	l := b.model
	defer func() {
		if r := recover(); r != nil {
			b.s.log.Error("model failed", "panic", r, "batch", len(live))
			for _, j := range live {
				j.done <- result{model: l, err: fmt.Errorf("serve: the model failed: %v", r)}
			}
		}
	}()
	now := time.Now()
	for _, j := range live {
		b.s.met.wait.Observe(now.Sub(j.queued).Seconds())
		if j.version != l.version { // prepared for a model swapped out since
			j.x = l.m.Prepare(j.img)
			j.stats = drift.ImageStats(j.x, l.m.Info.Mean, l.m.Info.Std)
			j.version = l.version
		}
	}
	if h := b.s.cfg.beforeBatch; h != nil {
		h(len(live))
	}
	b.s.met.batch.Observe(float64(len(live)))
	probs, conf, emb := b.forward(l, live)
	b.s.met.infer.Observe(time.Since(now).Seconds())
	for i, j := range live {
		res := result{model: l, probs: probs[i], class: -1}
		if j.explain {
			res.class = j.class
			if res.class < 0 || res.class >= len(probs[i]) {
				res.class = argmax(probs[i])
			}
			res.heat, res.err = b.explain(l, j, res.class)
		}
		b.s.met.predicted.WithLabelValues(l.m.Info.Classes[argmax(probs[i])]).Inc()
		j.done <- res
	}
	if st := b.s.drift.Load(); st != nil && st.mon != nil && st.version == l.version {
		for i, j := range live {
			st.mon.Observe(drift.Observation{Stats: append(j.stats, conf[i]), Embedding: emb[i]})
		}
	}
}

// forward runs one batch: the probabilities served (with test-time
// augmentation when the model uses it), and for the drift watch each
// image's confidence and embedding from the plain pass.
func (b *batcher) forward(l *loaded, js []*job) (probs [][]float64, conf []float64, emb [][]float32) {
	info := l.m.Info
	s, c := info.Config.Size, info.Channels
	x := tensor.Ensure(&b.xb, len(js), s, s, c)
	for i, j := range js {
		copy(x.Data[i*s*s*c:(i+1)*s*s*c], j.x.Data)
	}
	logits, emb := drift.Embed(l.m.Net, x)
	probs = drift.Activate(logits, info)
	conf = make([]float64, len(js))
	for i, p := range probs {
		conf[i] = drift.Confidence(p, info.MultiLabel)
	}
	if l.tta {
		p := train.Probabilities(l.m.Net, x, info, true, &b.tta)
		k := p.Dim(1)
		for i := range probs {
			for j := range probs[i] {
				probs[i][j] = float64(p.Data[i*k+j])
			}
		}
	}
	return probs, conf, emb
}

// explain computes the heat map of class for job j's image.
func (b *batcher) explain(l *loaded, j *job, class int) (*tensor.Tensor, error) {
	x := j.x.Reshape(append([]int{1}, j.x.Shape...)...)
	if j.method == "gradcampp" {
		return explain.GradCAMPlusPlus(l.m.Net, x, class)
	}
	return explain.GradCAM(l.m.Net, x, class)
}

func argmax(p []float64) int {
	best := 0
	for i, v := range p {
		if v > p[best] {
			best = i
		}
	}
	return best
}
