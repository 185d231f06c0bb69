package serve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/deepscope/deepscope/drift"
	"github.com/deepscope/deepscope/train"
)

// Server serves one run's model. Make one with New; it is an http.Handler.
type Server struct {
	cfg     Config
	log     *slog.Logger
	cur     atomic.Pointer[loaded]     // the model handlers prepare images for
	drift   atomic.Pointer[driftState] // the drift watch of the current model
	b       *batcher
	met     *metrics
	handler http.Handler

	decoding chan struct{} // bounds the images decoded at once (memory)
	arriving atomic.Int64  // model requests being read and decoded, not yet queued
	reloadMu sync.Mutex
	draining atomic.Bool
	closed   chan struct{}
	wg       sync.WaitGroup // background goroutines
}

// driftState is the drift watch of one model version.
type driftState struct {
	version string
	status  string // "building", "ready", "failed" or "disabled"
	err     string
	mon     *drift.Monitor // set when ready
}

// New loads the run in cfg.Dir and starts the goroutine that runs the
// model, the watcher of RUN/best.safetensors and, unless cfg.NoDrift, the
// building of the drift reference (in the background: the server answers
// predictions meanwhile). Call Close to stop them.
func New(cfg Config) (*Server, error) {
	cfg = cfg.withDefaults()
	if cfg.Dir == "" {
		return nil, fmt.Errorf("serve: no run directory given")
	}
	l, err := loadModel(cfg.Dir, cfg.TTA)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: cfg.Log, decoding: make(chan struct{}, runtime.GOMAXPROCS(0)), closed: make(chan struct{})}
	s.cur.Store(l)
	s.b = newBatcher(s, l)
	s.met = newMetrics(s)
	s.met.model.WithLabelValues(l.name, l.version).Set(1)
	s.handler = s.routes()
	s.log.Info("model loaded", "run", cfg.Dir, "model", l.info.Architecture, "version", l.version, "classes", len(l.info.Classes))
	s.wg.Add(1)
	go func() { defer s.wg.Done(); s.b.run() }()
	s.startDrift(l)
	if cfg.Watch > 0 {
		s.wg.Add(1)
		go func() { defer s.wg.Done(); s.watch() }()
	}
	return s, nil
}

// ServeHTTP answers a request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// Close stops the watcher, then the model goroutine once the images
// already queued are answered. Requests still arriving are refused; an
// http.Server should be shut down first (see Serve).
func (s *Server) Close() {
	select {
	case <-s.closed:
		return
	default:
	}
	s.draining.Store(true)
	close(s.closed)
	s.b.stop()
	s.wg.Wait()
}

// Serve answers requests on ln until ctx is done, then shuts down
// gracefully: /readyz turns 503, the listener closes, requests in flight
// finish (for up to grace), and the model goroutine stops.
func (s *Server) Serve(ctx context.Context, ln net.Listener, grace time.Duration) error {
	hs := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       s.cfg.Timeout,
		WriteTimeout:      s.cfg.Timeout + 5*time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		s.Close()
		return err
	case <-ctx.Done():
	}
	s.log.Info("shutting down", "grace", grace)
	s.draining.Store(true)
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	err := hs.Shutdown(sctx)
	s.Close()
	if e := <-errc; !errors.Is(e, http.ErrServerClosed) && err == nil {
		err = e
	}
	return err
}

// Reload loads the run's weights again and, when they changed, serves
// them from the next batch on. Requests in flight are not dropped: images
// prepared for the old model are prepared again for the new one. On error
// the old model stays. It reports the version served before and after.
func (s *Server) Reload() (before, after string, err error) {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	old := s.cur.Load()
	l, err := loadModel(s.cfg.Dir, s.cfg.TTA)
	if err != nil {
		s.met.reloads.WithLabelValues("failed").Inc()
		s.log.Error("reload failed; keeping the model", "version", old.version, "err", err)
		return old.version, old.version, err
	}
	if l.version == old.version {
		s.met.reloads.WithLabelValues("unchanged").Inc()
		return old.version, old.version, nil
	}
	s.b.swap(l)
	s.cur.Store(l)
	s.met.model.DeleteLabelValues(old.name, old.version)
	s.met.model.WithLabelValues(l.name, l.version).Set(1)
	s.met.reloads.WithLabelValues("loaded").Inc()
	s.log.Info("model reloaded", "from", old.version, "to", l.version)
	s.startDrift(l)
	return old.version, l.version, nil
}

// watch reloads the model when RUN/best.safetensors changes (size or
// modification time), checking every cfg.Watch.
func (s *Server) watch() {
	path := filepath.Join(s.cfg.Dir, train.BestFile)
	stamp := func() string {
		st, err := os.Stat(path)
		if err != nil {
			return ""
		}
		return fmt.Sprint(st.Size(), st.ModTime().UnixNano())
	}
	last := stamp()
	t := time.NewTicker(s.cfg.Watch)
	defer t.Stop()
	for {
		select {
		case <-s.closed:
			return
		case <-t.C:
		}
		now := stamp()
		if now == last || now == "" {
			continue
		}
		last = now
		s.log.Info("weights changed; reloading", "file", path)
		s.Reload()
	}
}

// startDrift sets up the drift watch for model l: disabled, or a
// reference loaded from RUN/drift.json or built in the background with a
// copy of the model of its own.
func (s *Server) startDrift(l *loaded) {
	if s.cfg.NoDrift {
		s.drift.Store(&driftState{version: l.version, status: "disabled", err: "the drift watch is turned off"})
		return
	}
	s.drift.Store(&driftState{version: l.version, status: "building"})
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		st := &driftState{version: l.version}
		t0 := time.Now()
		ref, built, err := buildReference(s.cfg.Dir, l.version)
		if err != nil {
			st.status, st.err = "failed", err.Error()
			s.log.Warn("drift watch off: no reference", "err", err)
		} else {
			st.status, st.mon = "ready", drift.NewMonitor(ref, s.cfg.Drift)
			s.log.Info("drift reference ready", "images", ref.Images, "built", built, "seconds", time.Since(t0).Seconds())
		}
		// Publish only if the model was not replaced meanwhile.
		for {
			cur := s.drift.Load()
			if cur.version != l.version || s.drift.CompareAndSwap(cur, st) {
				return
			}
		}
	}()
}

// buildReference returns the drift reference of the run's weights of the
// given version, from the cache or built with a model of its own (the
// served one belongs to the batcher).
func buildReference(dir, version string) (*drift.Reference, bool, error) {
	m, err := train.Load(dir)
	if err != nil {
		return nil, false, err
	}
	return drift.ForRun(m, version)
}
