package segment

import (
	"fmt"
	"io"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/deepscope/deepscope/nn"
	"github.com/deepscope/deepscope/progress"
	"github.com/deepscope/deepscope/tensor"
)

// Tuning records the thresholds TuneRun chose for turning probabilities into
// objects, and what they were worth; run.json keeps it, and Load uses its
// Instance in place of the run's configured one.
type Tuning struct {
	Instance InstanceConfig `json:"instance"`
	Images   int            `json:"images"` // labelled images tuned on
	// Before is the mean Data Science Bowl score of those images with the
	// thresholds the search started from; After with the chosen ones.
	// After is optimistic: the thresholds were chosen on those images.
	Before float64 `json:"score_before"`
	After  float64 `json:"score_after"`
	// CrossVal is the honest figure: each image scored with thresholds
	// chosen on the other half of the images (images alternate between
	// the halves), so no image's score comes from thresholds fitted to it.
	CrossVal float64 `json:"score_cross_validated"`
	TTA      bool    `json:"tta"` // whether the probabilities were averaged over quarter turns
	// Weights is the run's file whose weights were tuned (CheckpointFile:
	// the last weights; empty in runs tuned before it was recorded, which
	// tuned BestFile), and which Load reads.
	Weights string `json:"weights,omitempty"`
}

// tuneGrid is the set of values searched for the probability thresholds,
// nmsGrid for a star-convex head's NMS overlap (StarDist's default is
// 0.4), areaGrid for the smallest object kept, in pixels (Cellpose's
// default min_size is 15): specks of debris cost a false positive each,
// while no nucleus labelled in DSB2018 has fewer than 21 pixels (and 1.6%
// fewer than 25).
var (
	tuneGrid, nmsGrid = grid(0.30), grid(0.10)
	// energyGrid is searched for the hv head's Energy, finer where
	// DSB2018's runs chose it (0.05 and under); 1 cuts no seed.
	energyGrid = [12]float32{0.01, 0.02, 0.03, 0.04, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 1}
	areaGrid   = [12]float32{4, 8, 12, 15, 20, 25, 30, 35, 40, 50, 60, 80}
	// confGrid is searched for the three-class head's MinConfidence; 0
	// keeps every object.
	confGrid = [12]float32{0, 0.70, 0.725, 0.75, 0.775, 0.80, 0.825, 0.85, 0.875, 0.90, 0.925, 0.95}
)

// grid returns 12 values from lo in steps of 0.05.
func grid(lo float32) (g [12]float32) {
	for i := range g {
		g[i] = lo + 0.05*float32(i)
	}
	return g
}

// probCache holds one image's window outputs and its true labels, so that
// the objects can be found again under other thresholds without running
// the network. The three-class and hv heads' outputs (all in [0, 1]) are
// quantised to bytes; a star-convex head's distances are kept as they are.
type probCache struct {
	w, h    int
	tile    TileConfig
	windows [][]uint8
	star    [][]float32
	truth   *Labels
}

// newProbCache runs prob on every window of a normalised plane as Segment
// would.
func newProbCache(prob ProbFunc, tc TileConfig, star bool, plane []float32, truth *Labels) *probCache {
	c := &probCache{w: truth.W, h: truth.H, tile: tc.WithDefaults(), truth: truth}
	var win []float32
	ch := channelsOf(plane, c.w, c.h)
	for _, ys := range spans(c.h, c.tile.Tile, c.tile.Overlap) {
		for _, xs := range spans(c.w, c.tile.Tile, c.tile.Overlap) {
			win = window(win, plane, c.w, ch, xs, ys)
			p := prob(win, xs.w1-xs.w0, ys.w1-ys.w0)
			if star {
				c.star = append(c.star, p)
				continue
			}
			q := make([]uint8, len(p))
			for i, v := range p {
				q[i] = uint8(min(max(v, 0), 1)*255 + 0.5)
			}
			c.windows = append(c.windows, q)
		}
	}
	return c
}

// score segments the cached image under ic and scores it.
func (c *probCache) score(ic InstanceConfig) ImageScore {
	k := 0
	var buf []float32
	pred := segmentWindows(c.w, c.h, c.tile, ic, func(xs, ys span) []float32 {
		if c.star != nil {
			k++
			return c.star[k-1]
		}
		q := c.windows[k]
		k++
		buf = buf[:0]
		for _, v := range q {
			buf = append(buf, float32(v)/255)
		}
		return buf
	})
	return Score(c.truth, pred)
}

// scoreAll scores the images idx of cache under ic, on all threads, and
// returns the scores in idx's order. Images are handed out one at a time,
// not in contiguous shares, because their costs differ by a hundredfold
// (a 1024 x 1024 image with hundreds of nuclei against a 256 x 256 one
// with ten).
func scoreAll(cache []*probCache, idx []int, ic InstanceConfig) []ImageScore {
	out := make([]ImageScore, len(idx))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(tensor.Threads(), len(idx)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1) - 1); i < len(idx); i = int(next.Add(1) - 1) {
				out[i] = cache[idx[i]].score(ic)
			}
		}()
	}
	wg.Wait()
	return out
}

// search finds the foreground threshold of tuneGrid, the seed threshold
// of tuneGrid (star-convex head: the NMS overlap of nmsGrid), the
// smallest object of areaGrid, (three-class and hv heads) the least mean
// confidence of confGrid and (hv head) the energy of energyGrid that give
// the images idx a high mean score, by coordinate ascent from start: each
// knob in turn is set, with the others held, to the grid value at the
// broadest peak of the score (see broadestPeak), until none moves. Ties
// keep the current value, so the search leaves start alone unless another
// value's averaged score is strictly better. It returns the thresholds
// found and the images' mean score at start and at them.
//
// Choosing the broadest peak rather than the highest point costs a little
// on the images searched and gains on others: over three DSB2018
// hold-outs, with and without test-time augmentation, the cross-validated
// score (Tuning.CrossVal) rose in five of six paired measurements, by
// 0.0022 on average (see README).
func search(cache []*probCache, idx []int, start InstanceConfig, done func()) (InstanceConfig, float64, float64) {
	type key struct {
		fg, seed, nms, conf, energy float32
		area                        int
	}
	memo := map[key]float64{}
	eval := func(ic InstanceConfig) float64 {
		k := key{ic.Foreground, ic.Seed, ic.NMS, ic.MinConfidence, ic.Energy, ic.MinArea}
		if s, ok := memo[k]; ok {
			return s
		}
		s := Summarize(scoreAll(cache, idx, ic)).Score
		memo[k] = s
		done()
		return s
	}
	best := start.WithDefaults()
	type knob struct {
		grid [12]float32
		set  func(*InstanceConfig, float32)
	}
	knobs := []knob{
		{tuneGrid, func(c *InstanceConfig, v float32) { c.Foreground = v }},
		{tuneGrid, func(c *InstanceConfig, v float32) { c.Seed = v }},
		{areaGrid, func(c *InstanceConfig, v float32) { c.MinArea = int(v) }},
		{confGrid, func(c *InstanceConfig, v float32) { c.MinConfidence = v }},
	}
	if best.Rays > 0 { // NMS in place of the seed; no MinConfidence
		knobs[1] = knob{nmsGrid, func(c *InstanceConfig, v float32) { c.NMS = v }}
		knobs = knobs[:3]
	}
	if best.HV {
		knobs = append(knobs, knob{energyGrid, func(c *InstanceConfig, v float32) { c.Energy = v }})
	}
	before := eval(best)
	for range maxSearchRounds {
		moved := false
		for _, k := range knobs {
			var scores [12]float64
			cur := -1
			for i, v := range k.grid {
				ic := best
				k.set(&ic, v)
				scores[i] = eval(ic)
				if ic == best {
					cur = i
				}
			}
			if i := broadestPeak(scores, cur, eval(best)); i != cur {
				k.set(&best, k.grid[i])
				moved = true
			}
		}
		if !moved {
			break
		}
	}
	return best, before, eval(best)
}

// maxSearchRounds bounds search's rounds over the knobs, should the
// knobs' choices, each made on its own averaged scores, go round in a
// cycle.
const maxSearchRounds = 10

// broadestPeak returns the index of the grid value whose score, averaged
// with its neighbours' on the grid, is highest: the middle of a broad
// optimum rather than a lone peak that a few images' noise raised, which
// thresholds chosen on other images would not repeat. Ties keep cur, the
// current value's index; a current value off the grid (cur -1) stands by
// its own score, held, and is kept (-1 returned) unless some grid value's
// average beats it.
func broadestPeak(scores [12]float64, cur int, held float64) int {
	smooth := func(i int) float64 {
		lo, hi := max(i-1, 0), min(i+1, len(scores)-1)
		var s float64
		for _, v := range scores[lo : hi+1] {
			s += v
		}
		return s / float64(hi-lo+1)
	}
	best, top := cur, held
	if cur >= 0 {
		top = smooth(cur)
	}
	for i := range scores {
		if s := smooth(i); s > top {
			best, top = i, s
		}
	}
	return best
}

// tune chooses the thresholds that turn prob's output into objects
// (InstanceConfig's Foreground, Seed, MinArea and MinConfidence, or for a
// star-convex head Foreground, NMS and MinArea) for a high Data Science
// Bowl score on labelled images (see search), as StarDist's
// optimize_thresholds does on validation images. prob runs once per
// window; the search then replays the objects' extraction from the stored
// outputs (three bytes per pixel of every window, or a star-convex head's
// values as they are). The thresholds start from start, whose other
// fields are kept. tune also measures how
// much of the gain survives on images the thresholds were not fitted to
// (Tuning.CrossVal).
func tune(prob ProbFunc, tc TileConfig, start InstanceConfig, images []evalImage, log io.Writer) *Tuning {
	if log == nil {
		log = io.Discard
	}
	t0 := time.Now()
	cache := make([]*probCache, len(images))
	bar := progress.New(log, len(images), "tuning: probabilities")
	for i, im := range images {
		cache[i] = newProbCache(prob, tc, start.Rays > 0, im.plane, im.truth)
		bar.Update(i + 1)
	}
	bar.Done()
	all, halves := make([]int, len(images)), [2][]int{}
	for i := range all {
		all[i] = i
		halves[i%2] = append(halves[i%2], i)
	}
	evals := 0
	tick := func() { evals++ }
	t := &Tuning{Images: len(images)}
	t.Instance, t.Before, t.After = search(cache, all, start, tick)
	if len(images) >= 2 {
		var cross []ImageScore
		for h := range 2 {
			ic, _, _ := search(cache, halves[h], start, tick)
			cross = append(cross, scoreAll(cache, halves[1-h], ic)...)
		}
		t.CrossVal = Summarize(cross).Score
	} else {
		t.CrossVal = t.Before // nothing to fit on but the image itself
	}
	fmt.Fprintf(log, "tuned thresholds on %d images (%d settings, %.0fs): %s; score %.4f -> %.4f (%.4f with thresholds chosen on the other half)\n",
		len(images), evals, time.Since(t0).Seconds(), t.Instance.thresholds(), t.Before, t.After, t.CrossVal)
	return t
}

// tuneModel tunes m's thresholds (see tune) on images, starting from
// m.Instance; m is left unchanged.
func tuneModel(m *Model, images []evalImage, log io.Writer) *Tuning {
	nn.SetTraining(m.Net, false)
	t := tune(m.Probs, m.Tile, m.Instance, images, log)
	t.TTA = m.TTA
	return t
}

// TuneRun chooses a finished run's thresholds (as tune does) for a high
// Data Science Bowl score on its hold-out images, as StarDist's
// optimize_thresholds does on validation images, by coordinate ascent
// over a grid (see search), and reports how much of the
// gain survives on images the thresholds were not fitted to
// (Tuning.CrossVal). It tunes the run's last weights (CheckpointFile),
// starts from the run's configured thresholds, and records the result in
// its run.json, where Load finds it. tta, when not nil, sets the run's
// test-time augmentation (Config.TTA) for the tuning and, recorded in
// run.json, for eval and predict after it; nil keeps the run's setting.
func TuneRun(dir string, tta *bool, log io.Writer) (*Tuning, error) {
	ri, err := ReadRunInfo(dir)
	if err != nil {
		return nil, err
	}
	m, err := loadModel(dir, ri, CheckpointFile)
	if err != nil {
		return nil, err
	}
	m.Instance = ri.Config.Instance.WithDefaults()
	if tta != nil {
		ri.Config.TTA, m.TTA = *tta, *tta
	}
	ds, err := Open(ri.Config.Data)
	if err != nil {
		return nil, err
	}
	if ds.Fingerprint() != ri.Fingerprint {
		return nil, fmt.Errorf("segment: %s: the data changed since the run was trained; its hold-out cannot be rebuilt", ri.Config.Data)
	}
	samples, err := pick(ds, ri.Holdout)
	if err != nil {
		return nil, err
	}
	val, err := loadEval(samples, m.Channels)
	if err != nil {
		return nil, err
	}
	ri.Tuning = tuneModel(m, val, log)
	ri.Tuning.Weights = CheckpointFile
	return ri.Tuning, writeJSON(filepath.Join(dir, RunFile), ri)
}
