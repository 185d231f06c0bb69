package drift

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"time"
)

// Config sets a Monitor's window and the level of its tests. Zero fields
// take the defaults.
type Config struct {
	Window       int     // observations kept, the newest; 200 when zero
	MinWindow    int     // observations needed before testing; 50 when zero
	Alpha        float64 // level of the MMD test and family-wise level of the KS tests; 0.01 when zero
	Permutations int     // relabellings of the MMD permutation test; 200 when zero
}

func (c Config) withDefaults() Config {
	if c.Window <= 0 {
		c.Window = 200
	}
	if c.MinWindow <= 0 {
		c.MinWindow = 50
	}
	c.MinWindow = min(c.MinWindow, c.Window)
	if c.Alpha <= 0 || c.Alpha >= 1 {
		c.Alpha = 0.01
	}
	if c.Permutations <= 0 {
		c.Permutations = 200
	}
	return c
}

// Observation is what a Monitor keeps of one served image.
type Observation struct {
	// Stats holds ImageStats followed by the confidence: one value per
	// feature of the Reference, in its order.
	Stats     []float64
	Embedding []float32
}

// States of a Report.
const (
	StateWarmingUp = "warming_up" // fewer than MinWindow observations
	StateOK        = "ok"
	StateAlert     = "alert"
)

// Score is the comparison of one scalar feature with its reference.
type Score struct {
	Name       string  `json:"name"`
	KS         float64 `json:"ks"`      // Kolmogorov–Smirnov D
	PValue     float64 `json:"p_value"` // of the KS test
	PSI        float64 `json:"psi"`
	RefMean    float64 `json:"reference_mean"`
	WindowMean float64 `json:"window_mean"`
	Drift      bool    `json:"drift"` // the KS test rejects at Alpha/len(Features)
}

// Report is a Monitor's verdict on its current window.
type Report struct {
	State     string    `json:"state"`
	Alert     bool      `json:"alert"`
	Window    int       `json:"window"`     // observations in the window
	Seen      int       `json:"seen"`       // observations since the monitor started
	MinWindow int       `json:"min_window"` // needed before testing
	Alpha     float64   `json:"alpha"`
	Features  []Score   `json:"features,omitempty"`
	MMD       float64   `json:"mmd2"`        // squared MMD of the embeddings
	MMDPValue float64   `json:"mmd_p_value"` // permutation p-value
	MMDDrift  bool      `json:"mmd_drift"`   // the MMD test rejects at Alpha
	Reasons   []string  `json:"reasons"`     // what is out of line, for people
	Computed  time.Time `json:"computed"`
	Reference struct {
		Images  int       `json:"images"`
		Source  string    `json:"source"`
		Created time.Time `json:"created"`
	} `json:"reference"`
}

// Monitor compares a sliding window of served images with a Reference.
// Its methods are safe for concurrent use.
type Monitor struct {
	cfg Config
	ref *Reference

	mu   sync.Mutex
	ring []Observation
	next int
	seen int

	calc      sync.Mutex // one Report computation at a time
	cached    *Report
	cachedFor int // seen when cached was computed
}

// NewMonitor returns a monitor of ref with an empty window.
func NewMonitor(ref *Reference, cfg Config) *Monitor {
	cfg = cfg.withDefaults()
	return &Monitor{cfg: cfg, ref: ref, ring: make([]Observation, 0, cfg.Window), cachedFor: -1}
}

// Reference returns the reference the monitor compares with.
func (m *Monitor) Reference() *Reference { return m.ref }

// Observe adds one served image to the window, pushing out the oldest
// when it is full. An observation with the wrong number of stats is
// ignored.
func (m *Monitor) Observe(o Observation) {
	if len(o.Stats) != len(m.ref.Features) {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.ring) < m.cfg.Window {
		m.ring = append(m.ring, o)
	} else {
		m.ring[m.next] = o
		m.next = (m.next + 1) % m.cfg.Window
	}
	m.seen++
}

// Report tests the current window against the reference. The result is
// cached until the next observation; computing it costs the MMD's kernel
// matrix and permutations, tens of milliseconds.
func (m *Monitor) Report() Report {
	m.calc.Lock()
	defer m.calc.Unlock()
	m.mu.Lock()
	seen := m.seen
	if m.cached != nil && m.cachedFor == seen {
		m.mu.Unlock()
		return *m.cached
	}
	win := append([]Observation(nil), m.ring...)
	m.mu.Unlock()

	r := m.test(win)
	r.Seen = seen
	m.cached, m.cachedFor = &r, seen
	return r
}

func (m *Monitor) test(win []Observation) Report {
	cfg, ref := m.cfg, m.ref
	r := Report{State: StateWarmingUp, Window: len(win), MinWindow: cfg.MinWindow, Alpha: cfg.Alpha,
		MMDPValue: 1, Reasons: []string{}, Computed: time.Now().UTC()}
	r.Reference.Images, r.Reference.Source, r.Reference.Created = ref.Images, ref.Source, ref.Created
	if len(win) < cfg.MinWindow {
		r.Reasons = append(r.Reasons, fmt.Sprintf("%d of %d images needed before testing", len(win), cfg.MinWindow))
		return r
	}
	r.State = StateOK
	level := cfg.Alpha / float64(len(ref.Features))
	for k, f := range ref.Features {
		x := make([]float64, len(win))
		var xm float64
		for i, o := range win {
			x[i] = o.Stats[k]
			xm += x[i]
		}
		d, p := KS(f.Values, x)
		s := Score{Name: f.Name, KS: d, PValue: p, PSI: PSI(f.Edges, f.Shares, x),
			RefMean: mean(f.Values), WindowMean: xm / float64(len(x)), Drift: p < level}
		if s.Drift {
			r.Alert = true
			r.Reasons = append(r.Reasons, fmt.Sprintf("%s: window mean %.4g, reference %.4g (KS D %.3f, p %.2g)",
				s.Name, s.WindowMean, s.RefMean, d, p))
		}
		r.Features = append(r.Features, s)
	}
	var emb [][]float32
	for _, o := range win {
		if len(ref.Embeddings) > 0 && len(o.Embedding) == len(ref.Embeddings[0]) {
			emb = append(emb, o.Embedding)
		}
	}
	if len(emb) >= cfg.MinWindow {
		rng := rand.New(rand.NewPCG(uint64(len(emb)), 0x3d3d))
		r.MMD, r.MMDPValue = MMD(ref.Embeddings, emb, ref.Scale, cfg.Permutations, rng)
		if r.MMDDrift = r.MMDPValue < cfg.Alpha; r.MMDDrift {
			r.Alert = true
			r.Reasons = append(r.Reasons, fmt.Sprintf("embeddings: MMD² %.4g (permutation p %.3g)", r.MMD, r.MMDPValue))
		}
	}
	if r.Alert {
		r.State = StateAlert
	}
	return r
}

func mean(v []float64) float64 {
	var s float64
	for _, x := range v {
		s += x
	}
	return s / float64(max(len(v), 1))
}
