package serve

import (
	"bytes"
	"encoding/base64"
	"image"
	"image/png"
	"math"
	"net/http"
	"strconv"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/deepscope/deepscope/data"
	"github.com/deepscope/deepscope/drift"
	"github.com/deepscope/deepscope/explain"
	"github.com/deepscope/deepscope/tensor"
)

// ModelRef names the model version that answered.
type ModelRef struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// Prediction is the answer for one image of POST /v1/predict.
type Prediction struct {
	Image         string             `json:"image"`            // file name of the part, or "body"
	Label         string             `json:"label"`            // top class
	Confidence    float64            `json:"confidence"`       // its probability
	Labels        []string           `json:"labels,omitempty"` // multi-label models: classes with p >= 0.5
	Probabilities map[string]float64 `json:"probabilities"`
}

// PredictResponse is the body of a successful POST /v1/predict.
type PredictResponse struct {
	Model       ModelRef     `json:"model"`
	Predictions []Prediction `json:"predictions"`
}

// Heatmap is a Grad-CAM map, row-major.
type Heatmap struct {
	Width  int       `json:"width"`
	Height int       `json:"height"`
	Values []float32 `json:"values"` // in [0, 1], 4 decimals
}

// ExplainResponse is the body of a successful POST /v1/explain.
type ExplainResponse struct {
	Model ModelRef `json:"model"`
	Prediction
	Method     string  `json:"method"`      // gradcam or gradcampp
	Class      string  `json:"class"`       // the class explained
	ClassIndex int     `json:"class_index"` // its index in the model's classes
	Heatmap    Heatmap `json:"heatmap"`
	HeatmapPNG string  `json:"heatmap_png"` // base64 8-bit grey PNG of the map, model input size
	OverlayPNG string  `json:"overlay_png"` // base64 PNG of the map over the image as the model sees it (crop), at most 512 px
}

// apiMethods lists the methods of each API path, for 405 answers.
var apiMethods = map[string]string{
	"/v1/predict": "POST", "/v1/explain": "POST", "/v1/reload": "POST",
	"/v1/models": "GET", "/v1/drift": "GET", "/healthz": "GET", "/readyz": "GET", "/metrics": "GET",
}

func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	if m, ok := apiMethods[r.URL.Path]; ok {
		w.Header().Set("Allow", m)
		writeError(w, errorf(http.StatusMethodNotAllowed, "%s %s: use %s", r.Method, r.URL.Path, m))
		return
	}
	writeError(w, errorf(http.StatusNotFound, "no route %s %s", r.Method, r.URL.Path))
}

// prepare decodes uploads and prepares them for the current model, at
// most GOMAXPROCS images at a time across all requests.
func (s *Server) prepare(r *http.Request, ups []upload) ([]*job, *apiError) {
	l := s.cur.Load()
	js := make([]*job, len(ups))
	for i, u := range ups {
		select {
		case s.decoding <- struct{}{}:
		case <-r.Context().Done():
			return nil, timeoutError()
		}
		img, aerr := decodeUpload(u, s.cfg.MaxPixels)
		if aerr == nil && img.Dim(0)*img.Dim(1) == 0 {
			aerr = errorf(http.StatusBadRequest, "%s: no pixels", u.name)
		}
		var x *tensor.Tensor
		var stats []float64
		if aerr == nil {
			x = l.m.Prepare(img)
			stats = drift.ImageStats(x, l.m.Info.Mean, l.m.Info.Std)
		}
		<-s.decoding
		if aerr != nil {
			return nil, aerr
		}
		js[i] = &job{ctx: r.Context(), img: img, x: x, stats: stats, version: l.version, class: -1, done: make(chan result, 1)}
	}
	return js, nil
}

func timeoutError() *apiError {
	return &apiError{Status: http.StatusServiceUnavailable, Msg: "timed out waiting for the model", RetryAfter: 1}
}

// run queues jobs, ends their arrival a, and waits for their results.
func (s *Server) run(r *http.Request, js []*job, a *arrival) ([]result, *apiError) {
	defer a.queued()
	if s.draining.Load() {
		return nil, &apiError{Status: http.StatusServiceUnavailable, Msg: "the server is shutting down", RetryAfter: 1}
	}
	err := s.b.submit(js)
	a.queued()
	if err != nil {
		s.met.rejected.Inc()
		return nil, &apiError{Status: http.StatusServiceUnavailable,
			Msg: "busy: the queue of " + strconv.Itoa(s.cfg.Queue) + " images is full; retry later", RetryAfter: 1}
	}
	out := make([]result, len(js))
	for i, j := range js {
		select {
		case out[i] = <-j.done:
			if out[i].err != nil && !j.explain {
				return nil, errorf(http.StatusInternalServerError, "%v", out[i].err)
			}
		case <-r.Context().Done():
			return nil, timeoutError()
		}
	}
	return out, nil
}

// arrival counts a model request from its start to its queueing, so that
// the batcher knows whether waiting for more images can pay.
type arrival struct {
	s    *Server
	done bool
}

func (s *Server) arrive() *arrival {
	s.arriving.Add(1)
	return &arrival{s: s}
}

// queued ends the arrival; later calls do nothing.
func (a *arrival) queued() {
	if !a.done {
		a.done = true
		a.s.arriving.Add(-1)
	}
}

func (s *Server) predict(w http.ResponseWriter, r *http.Request) {
	a := s.arrive()
	defer a.queued()
	ups, aerr := readUploads(r, s.cfg.MaxImages)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	js, aerr := s.prepare(r, ups)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	res, aerr := s.run(r, js, a)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	l := res[0].model
	out := PredictResponse{Model: ModelRef{l.name, l.version}}
	for i, rs := range res {
		out.Predictions = append(out.Predictions, prediction(rs, ups[i].name))
	}
	writeJSON(w, http.StatusOK, out)
}

func prediction(rs result, name string) Prediction {
	info := rs.model.m.Info
	best := argmax(rs.probs)
	p := Prediction{Image: name, Label: info.Classes[best], Confidence: round4(rs.probs[best]),
		Probabilities: make(map[string]float64, len(rs.probs))}
	for k, v := range rs.probs {
		p.Probabilities[info.Classes[k]] = round4(v)
		if info.MultiLabel && v >= 0.5 {
			p.Labels = append(p.Labels, info.Classes[k])
		}
	}
	return p
}

func round4(v float64) float64 { return math.Round(v*1e4) / 1e4 }

func (s *Server) explain(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	method := q.Get("method")
	if method == "" {
		method = "gradcam"
	}
	if method != "gradcam" && method != "gradcampp" {
		writeError(w, errorf(http.StatusBadRequest, "method %q: want gradcam or gradcampp", method))
		return
	}
	classes := s.cur.Load().m.Info.Classes
	class := -1
	if c := q.Get("class"); c != "" {
		for i, name := range classes {
			if name == c || strconv.Itoa(i) == c {
				class = i
			}
		}
		if class < 0 {
			writeError(w, errorf(http.StatusBadRequest, "class %q: not one of the model's %d classes", c, len(classes)))
			return
		}
	}
	a := s.arrive()
	defer a.queued()
	ups, aerr := readUploads(r, 1)
	if aerr != nil {
		if aerr.Status == http.StatusRequestEntityTooLarge && aerr.Msg == "more than 1 images in one request" {
			aerr.Msg = "explain takes one image per request"
		}
		writeError(w, aerr)
		return
	}
	js, aerr := s.prepare(r, ups)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	j := js[0]
	j.explain, j.class, j.method = true, class, method
	res, aerr := s.run(r, js, a)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	rs := res[0]
	if rs.err != nil {
		writeError(w, errorf(http.StatusNotImplemented, "%v", rs.err))
		return
	}
	l := rs.model
	out := ExplainResponse{Model: ModelRef{l.name, l.version}, Prediction: prediction(rs, ups[0].name),
		Method: method, Class: l.m.Info.Classes[rs.class], ClassIndex: rs.class}
	heat := rs.heat
	out.Heatmap = Heatmap{Width: heat.Dim(1), Height: heat.Dim(0), Values: make([]float32, heat.Len())}
	for i, v := range heat.Contiguous().Values() {
		if math.IsNaN(float64(v)) {
			v = 0
		}
		out.Heatmap.Values[i] = float32(math.Round(float64(v)*1e4) / 1e4)
	}
	out.HeatmapPNG = pngBase64(greyImage(out.Heatmap))
	view := data.Preprocess{Crop: l.m.Info.Config.Crop, Channels: 3}
	shown := view.Apply(j.img)
	if side := min(shown.Dim(0), shown.Dim(1)); side > 512 || shown.Dim(0) != shown.Dim(1) {
		view.Size = min(side, 512)
		shown = view.Apply(j.img)
	}
	out.OverlayPNG = pngBase64(explain.Overlay(shown, heat))
	writeJSON(w, http.StatusOK, out)
}

func greyImage(h Heatmap) image.Image {
	g := image.NewGray(image.Rect(0, 0, h.Width, h.Height))
	for i, v := range h.Values {
		g.Pix[i] = uint8(math.Round(float64(min(max(v, 0), 1)) * 255))
	}
	return g
}

func pngBase64(img image.Image) string {
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return ""
	}
	return base64.StdEncoding.EncodeToString(buf.Bytes())
}

func (s *Server) models(w http.ResponseWriter, r *http.Request) {
	l := s.cur.Load()
	writeJSON(w, http.StatusOK, struct {
		Models []ModelInfo `json:"models"`
	}{[]ModelInfo{l.info}})
}

// DriftResponse is the body of GET /v1/drift.
type DriftResponse struct {
	Model  ModelRef      `json:"model"`
	Status string        `json:"status"` // building, ready, failed or disabled
	Error  string        `json:"error,omitempty"`
	Report *drift.Report `json:"report,omitempty"`
}

func (s *Server) driftReport(w http.ResponseWriter, r *http.Request) {
	l := s.cur.Load()
	st := s.drift.Load()
	out := DriftResponse{Model: ModelRef{l.name, st.version}, Status: st.status, Error: st.err}
	if st.mon != nil {
		rep := st.mon.Report()
		out.Report = &rep
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) reload(w http.ResponseWriter, r *http.Request) {
	before, after, err := s.Reload()
	if err != nil {
		writeError(w, errorf(http.StatusInternalServerError, "reload failed, still serving %s: %v", before, err))
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Reloaded bool   `json:"reloaded"`
		Previous string `json:"previous"`
		Version  string `json:"version"`
	}{before != after, before, after})
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if s.draining.Load() {
		writeError(w, &apiError{Status: http.StatusServiceUnavailable, Msg: "shutting down", RetryAfter: 1})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready", "version": s.cur.Load().version})
}

func (s *Server) metricsHandler() http.Handler {
	return promhttp.HandlerFor(s.met.reg, promhttp.HandlerOpts{ErrorLog: nil})
}
