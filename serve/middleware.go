package serve

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// routeKey keys the *routeInfo of a request's context.
type routeKey struct{}

// routeInfo is filled in by the handler a request reaches, for the outer
// middleware's logs and metrics.
type routeInfo struct{ route string }

// statusWriter records the status and size of a response.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += n
	return n, err
}

// Unwrap lets http.ResponseController reach the connection.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// instrument is the outermost middleware: it turns a handler's panic into
// a 500, counts and times the request by route and code, and logs it.
func (s *Server) instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t0 := time.Now()
		ri := &routeInfo{route: "unmatched"}
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.log.Error("handler panic", "path", r.URL.Path, "panic", p)
				if sw.status == 0 {
					writeError(sw, errorf(http.StatusInternalServerError, "internal error"))
				}
			}
			d := time.Since(t0)
			code := strconv.Itoa(sw.status)
			s.met.requests.WithLabelValues(ri.route, code).Inc()
			s.met.latency.WithLabelValues(ri.route).Observe(d.Seconds())
			level := slog.LevelInfo
			if strings.HasPrefix(ri.route, "GET /metrics") || strings.HasPrefix(ri.route, "GET /healthz") || strings.HasPrefix(ri.route, "GET /readyz") {
				level = slog.LevelDebug
			}
			s.log.Log(r.Context(), level, "request", "method", r.Method, "path", r.URL.Path, "route", ri.route,
				"status", sw.status, "bytes", sw.bytes, "ms", float64(d.Microseconds())/1000, "remote", r.RemoteAddr)
		}()
		next.ServeHTTP(sw, r.WithContext(context.WithValue(r.Context(), routeKey{}, ri)))
	})
}

// withTimeout gives every request a deadline of cfg.Timeout; handlers
// that wait for the model answer 503 when it passes.
func (s *Server) withTimeout(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), s.cfg.Timeout)
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// handle registers h for pattern and names the route for metrics.
func (s *Server) handle(mux *http.ServeMux, pattern string, h http.HandlerFunc) {
	mux.Handle(pattern, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ri, ok := r.Context().Value(routeKey{}).(*routeInfo); ok {
			ri.route = pattern
		}
		h(w, r)
	}))
}

// routes builds the handler tree: the outer middleware, the body limit and
// deadline, and the routes.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	s.handle(mux, "POST /v1/predict", s.predict)
	s.handle(mux, "POST /v1/explain", s.explain)
	s.handle(mux, "GET /v1/models", s.models)
	s.handle(mux, "GET /v1/drift", s.driftReport)
	s.handle(mux, "POST /v1/reload", s.reload)
	s.handle(mux, "GET /healthz", s.healthz)
	s.handle(mux, "GET /readyz", s.readyz)
	s.handle(mux, "GET /metrics", s.metricsHandler().ServeHTTP)
	s.handle(mux, "GET /{$}", s.page)
	s.handle(mux, "GET /static/", staticHandler().ServeHTTP)
	s.handle(mux, "/", s.notFound)
	var h http.Handler = mux
	h = http.MaxBytesHandler(h, s.cfg.MaxBody)
	h = s.withTimeout(h)
	return s.instrument(h)
}

// writeJSON writes v with the given status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.Encode(v)
}

// writeError writes {"error": ..., "status": ...}.
func writeError(w http.ResponseWriter, e *apiError) {
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(e.RetryAfter))
	}
	writeJSON(w, e.Status, struct {
		Error  string `json:"error"`
		Status int    `json:"status"`
	}{e.Msg, e.Status})
}
