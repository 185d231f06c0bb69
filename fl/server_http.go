package fl

import (
	"context"
	"crypto/ecdh"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"strconv"
	"time"
)

// Handler returns the server's HTTP API. Every request must come over TLS
// with a verified client certificate, whose common name is the client's
// name; requests without one are refused.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+PathRound, s.handleRound)
	mux.HandleFunc("POST "+PathJoin, s.handleJoin)
	mux.HandleFunc("GET "+PathWeights, s.handleWeights)
	mux.HandleFunc("POST "+PathUpdate, s.handleUpdate)
	return mux
}

// clientID returns the common name of the request's verified client
// certificate, or "" when there is none.
func clientID(r *http.Request) string {
	if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 || len(r.TLS.VerifiedChains[0]) == 0 {
		return ""
	}
	return r.TLS.VerifiedChains[0][0].Subject.CommonName
}

// httpError writes a plain-text error.
func httpError(w http.ResponseWriter, code int, format string, args ...any) {
	http.Error(w, fmt.Sprintf(format, args...), code)
}

func (s *Server) identify(w http.ResponseWriter, r *http.Request) (string, bool) {
	id := clientID(r)
	if id == "" {
		httpError(w, http.StatusForbidden, "fl: a verified client certificate with a common name is required")
		return "", false
	}
	return id, true
}

func (s *Server) handleRound(w http.ResponseWriter, r *http.Request) {
	id, ok := s.identify(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	s.tick(time.Now())
	ri := s.info(id)
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(ri)
}

func (s *Server) handleJoin(w http.ResponseWriter, r *http.Request) {
	id, ok := s.identify(w, r)
	if !ok {
		return
	}
	var req JoinRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		httpError(w, http.StatusBadRequest, "fl: join request: %v", err)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	s.tick(now)
	switch {
	case s.phase != PhaseJoin || req.Token != s.token:
		httpError(w, http.StatusConflict, "fl: round %d is not open to join under token %q", s.st.Round+1, req.Token)
		return
	case req.Samples < 2 || req.Samples > 1e9:
		httpError(w, http.StatusBadRequest, "fl: %d training images: want at least 2", req.Samples)
		return
	case len(req.Classes) == 0:
		httpError(w, http.StatusBadRequest, "fl: join request names no classes")
		return
	case s.st.Mean == nil && req.Stats == nil:
		httpError(w, http.StatusBadRequest, "fl: the first round needs the site's image statistics")
		return
	}
	if s.st.Classes != nil {
		if c := unknownClass(req.Classes, s.st.Classes); c != "" {
			httpError(w, http.StatusForbidden, "fl: class %q is not one of the run's classes (%v)", c, s.st.Classes)
			return
		}
	}
	if s.cfg.Secure {
		if _, err := ecdh.X25519().NewPublicKey(req.PublicKey); err != nil {
			httpError(w, http.StatusBadRequest, "fl: secure aggregation needs an X25519 public key: %v", err)
			return
		}
	}
	s.joined[id] = req
	s.tick(now)
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleWeights(w http.ResponseWriter, r *http.Request) {
	id, ok := s.identify(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	b, member := s.weights, false
	if s.phase == PhaseTrain {
		member = s.info(id).Member
	}
	s.mu.Unlock()
	if !member {
		httpError(w, http.StatusConflict, "fl: %s is not in the cohort of the round in progress", id)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.Write(b)
}

func (s *Server) handleUpdate(w http.ResponseWriter, r *http.Request) {
	id, ok := s.identify(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	limit := int64(1 << 20)
	if s.layout != nil {
		limit += 4 * int64(s.layout.Total)
	}
	s.mu.Unlock()
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		httpError(w, http.StatusRequestEntityTooLarge, "fl: update: %v", err)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	s.tick(now)
	if s.phase != PhaseTrain || !s.info(id).Member {
		httpError(w, http.StatusConflict, "fl: %s is not in the cohort of the round in progress", id)
		return
	}
	if _, dup := s.uploads[id]; dup {
		httpError(w, http.StatusConflict, "fl: %s already reported this round", id)
		return
	}
	u, err := s.decodeUpload(body)
	if errors.Is(err, errStale) {
		httpError(w, http.StatusConflict, "%v", err)
		return
	}
	if err != nil {
		s.uploads[id] = &upload{rejected: true}
		s.logf("%s: rejected %s: %v", s.roundName(), id, err)
		httpError(w, http.StatusBadRequest, "%v", err)
		s.tick(now)
		return
	}
	s.uploads[id] = u
	s.tick(now)
	w.WriteHeader(http.StatusNoContent)
}

// errStale marks an update made for another attempt at the round.
var errStale = errors.New("fl: update made for another round")

// decodeUpload checks and decodes an update body. Callers hold s.mu.
func (s *Server) decodeUpload(body []byte) (*upload, error) {
	u := &upload{}
	var meta map[string]string
	var err error
	if s.cfg.Secure {
		u.masked, meta, err = decodeMasked(body, s.layout.Total)
		if n, _ := strconv.Atoi(meta[MetaClamped]); n > 0 {
			s.logf("%s: %d values of an update were clamped by the fixed-point code", s.roundName(), n)
		}
	} else {
		u.delta, meta, err = s.layout.DecodeVector(body)
	}
	if err != nil {
		return nil, err
	}
	if meta[MetaToken] != s.token {
		return nil, fmt.Errorf("%w (token %q, not %q)", errStale, meta[MetaToken], s.token)
	}
	u.loss, _ = strconv.ParseFloat(meta[MetaLoss], 64)
	u.valCorrect, _ = strconv.Atoi(meta[MetaValCorrect])
	u.valTotal, _ = strconv.Atoi(meta[MetaValTotal])
	if u.valCorrect < 0 || u.valTotal < 0 || u.valCorrect > u.valTotal {
		u.valCorrect, u.valTotal = 0, 0
	}
	return u, nil
}

// Serve answers the API on ln over TLS with tc (see ServerTLS) until the
// last round is done and its clients are told (or Linger passes), or ctx
// is cancelled; then it shuts down gracefully. Refused TLS handshakes
// (unknown client certificates) are logged.
func (s *Server) Serve(ctx context.Context, ln net.Listener, tc *tls.Config) error {
	srv := &http.Server{
		Handler:           s.Handler(),
		TLSConfig:         tc,
		ReadHeaderTimeout: 30 * time.Second,
		ErrorLog:          log.New(s.cfg.Log, "fl server: ", 0),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(tls.NewListener(ln, tc)) }()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var err error
loop:
	for {
		select {
		case <-ctx.Done():
			err = ctx.Err()
			break loop
		case err = <-errc:
			return fmt.Errorf("fl: %w", err)
		case now := <-tick.C:
			s.mu.Lock()
			s.tick(now)
			s.mu.Unlock()
			if s.over(now) {
				break loop
			}
		}
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if serr := srv.Shutdown(sctx); serr != nil && !errors.Is(serr, http.ErrServerClosed) {
		return fmt.Errorf("fl: %w", serr)
	}
	return err
}

// ListenAndServe listens on addr and calls Serve.
func (s *Server) ListenAndServe(ctx context.Context, addr string, tc *tls.Config) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("fl: %w", err)
	}
	return s.Serve(ctx, ln, tc)
}
