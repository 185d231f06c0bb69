package serve

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"image/png"
	"math"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// gate holds the model goroutine in its first batch until released, and
// records the size of every batch.
type gate struct {
	mu      sync.Mutex
	sizes   []int
	entered chan struct{}
	release chan struct{}
}

func newGate() *gate { return &gate{entered: make(chan struct{}), release: make(chan struct{})} }

func (g *gate) hook(n int) {
	g.mu.Lock()
	g.sizes = append(g.sizes, n)
	first := len(g.sizes) == 1
	g.mu.Unlock()
	if first {
		close(g.entered)
		<-g.release
	}
}

func (g *gate) batches() []int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]int(nil), g.sizes...)
}

func decodePredict(t *testing.T, b []byte) PredictResponse {
	t.Helper()
	var pr PredictResponse
	if err := json.Unmarshal(b, &pr); err != nil {
		t.Fatalf("bad JSON %q: %v", b, err)
	}
	return pr
}

func checkPrediction(t *testing.T, p Prediction) {
	t.Helper()
	var sum float64
	for _, v := range p.Probabilities {
		sum += v
	}
	if len(p.Probabilities) != len(testClasses()) || math.Abs(sum-1) > 1e-3 {
		t.Errorf("%d probabilities summing to %g; want %d summing to 1", len(p.Probabilities), sum, len(testClasses()))
	}
	if p.Probabilities[p.Label] != p.Confidence {
		t.Errorf("label %s has probability %g, confidence says %g", p.Label, p.Probabilities[p.Label], p.Confidence)
	}
}

func TestPredictRawAndMultipart(t *testing.T) {
	_, hs := newTestServer(t, makeRun(t), nil)
	resp, b := postImage(t, hs.URL+"/v1/predict", "image/png", cellPNG(t, 0, nil))
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	pr := decodePredict(t, b)
	if len(pr.Predictions) != 1 || pr.Model.Version == "" {
		t.Fatalf("response %s", b)
	}
	checkPrediction(t, pr.Predictions[0])

	ct, body := multipartBody(t, [][]byte{cellPNG(t, 0, nil), cellPNG(t, 1, nil), cellPNG(t, 2, nil)})
	resp, b = postImage(t, hs.URL+"/v1/predict", ct, body)
	if resp.StatusCode != 200 {
		t.Fatalf("multipart: status %d: %s", resp.StatusCode, b)
	}
	pr2 := decodePredict(t, b)
	if len(pr2.Predictions) != 3 {
		t.Fatalf("%d predictions for 3 images", len(pr2.Predictions))
	}
	for i, p := range pr2.Predictions {
		checkPrediction(t, p)
		if want := "cell" + string(rune('a'+i)) + ".png"; p.Image != want {
			t.Errorf("prediction %d names %q, want %q", i, p.Image, want)
		}
	}
	// The same image gives the same answer alone and in a batch.
	if a, b := pr.Predictions[0].Probabilities, pr2.Predictions[0].Probabilities; math.Abs(a[pr.Predictions[0].Label]-b[pr.Predictions[0].Label]) > 1e-3 {
		t.Errorf("image 0 alone %v, in a batch of 3 %v", a, b)
	}
}

func TestBadInputGets4xxAndServerKeepsServing(t *testing.T) {
	_, hs := newTestServer(t, makeRun(t), func(c *Config) {
		c.MaxBody = 64 << 10
		c.MaxPixels = 48 * 48
		c.MaxImages = 2
	})
	good := cellPNG(t, 0, nil)
	bigPNG := func(w, h int) []byte { // a valid PNG of w×h pixels
		var buf bytes.Buffer
		png.Encode(&buf, imageOfSize(w, h))
		return buf.Bytes()
	}
	threeCT, three := multipartBody(t, [][]byte{good, good, good})
	textCT, textPart := func() (string, []byte) {
		ct, b := multipartBody(t, [][]byte{good})
		return ct, bytes.Replace(b, []byte("Content-Type: image/png"), []byte("Content-Type: text/plain"), 1)
	}()
	cases := []struct {
		name   string
		ctype  string
		body   []byte
		status int
		says   string
	}{
		{"not an image", "image/png", []byte("hello, I am text"), 400, "not a PNG, JPEG, BMP or TIFF"},
		{"truncated", "image/png", good[:len(good)/2], 400, "truncated"},
		{"header only", "image/png", good[:40], 400, "truncated"},
		{"enormous dimensions", "image/png", pngHeader(100000, 100000), 413, "pixels"},
		{"decompression bomb", "image/png", pngHeader(16000, 16000), 413, "pixels"},
		{"over the server's pixels", "image/png", bigPNG(64, 64), 413, "at most 2304 pixels"},
		{"wrong content type", "text/plain", good, 415, "Content-Type text/plain"},
		{"unsupported image type", "image/gif", good, 415, "image/gif is not supported"},
		{"no content type", "", good, 415, "no Content-Type"},
		{"empty body", "image/png", nil, 400, "empty"},
		{"body over the limit", "image/png", bytes.Repeat([]byte{0}, 100<<10), 413, "over the limit"},
		{"multipart without files", "multipart/form-data; boundary=x", []byte("--x\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--x--\r\n"), 400, "no file parts"},
		{"multipart without boundary", "multipart/form-data", good, 400, "boundary"},
		{"multipart text part", textCT, textPart, 415, "text/plain"},
		{"too many images", threeCT, three, 413, "more than 2 images"},
		{"broken multipart", "multipart/form-data; boundary=x", []byte("--x\r\nnonsense"), 400, "multipart"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, route := range []string{"/v1/predict", "/v1/explain"} {
				resp, b := postImage(t, hs.URL+route, c.ctype, c.body)
				var e struct {
					Error  string `json:"error"`
					Status int    `json:"status"`
				}
				if err := json.Unmarshal(b, &e); err != nil || resp.Header.Get("Content-Type") != "application/json" {
					t.Fatalf("%s: not a JSON error: %q (%v)", route, b, err)
				}
				if c.name == "too many images" && route == "/v1/explain" {
					c.says = "one image"
				}
				if resp.StatusCode != c.status || e.Status != c.status || !strings.Contains(e.Error, c.says) {
					t.Errorf("%s: %d %q; want %d saying %q", route, resp.StatusCode, e.Error, c.status, c.says)
				}
			}
		})
	}
	if resp, b := postImage(t, hs.URL+"/v1/predict", "image/png", good); resp.StatusCode != 200 {
		t.Fatalf("after bad input, a good image got %d: %s", resp.StatusCode, b)
	}
}

func TestRoutesAnswerJSON(t *testing.T) {
	_, hs := newTestServer(t, makeRun(t), nil)
	cases := []struct {
		method, path string
		status       int
	}{
		{"GET", "/healthz", 200},
		{"GET", "/readyz", 200},
		{"GET", "/v1/models", 200},
		{"GET", "/v1/drift", 200},
		{"GET", "/v1/predict", 405},
		{"POST", "/v1/models", 405},
		{"GET", "/nowhere", 404},
	}
	for _, c := range cases {
		req, _ := http.NewRequest(c.method, hs.URL+c.path, nil)
		resp, b := do(t, req)
		if resp.StatusCode != c.status || resp.Header.Get("Content-Type") != "application/json" || !json.Valid(b) {
			t.Errorf("%s %s: %d %s %q; want %d and JSON", c.method, c.path, resp.StatusCode, resp.Header.Get("Content-Type"), b, c.status)
		}
	}
	var m struct{ Models []ModelInfo }
	getJSON(t, hs.URL+"/v1/models", &m)
	mi := m.Models[0]
	if mi.Architecture != "cellnet" || len(mi.Classes) != 8 || mi.Input.Size != testSize || mi.Input.Channels != 3 ||
		len(mi.Version) != 12 || mi.Training == nil || mi.Training.ValAUC != 0.8 {
		t.Errorf("models: %+v", mi)
	}
	resp, b := do(t, mustReq(t, "GET", hs.URL+"/", nil))
	if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Type"), "text/html") || !bytes.Contains(b, []byte("/static/app.js")) {
		t.Errorf("page: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for _, f := range []string{"/static/app.js", "/static/style.css"} {
		if resp, _ := do(t, mustReq(t, "GET", hs.URL+f, nil)); resp.StatusCode != 200 {
			t.Errorf("%s: %d", f, resp.StatusCode)
		}
	}
}

func mustReq(t *testing.T, method, url string, body []byte) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// Requests that arrive while the model is busy are answered together in
// one batch.
func TestDynamicBatching(t *testing.T) {
	g := newGate()
	s, hs := newTestServer(t, makeRun(t), func(c *Config) { c.beforeBatch = g.hook; c.MaxWait = time.Second })
	img := cellPNG(t, 3, nil)
	const n = 10
	var wg sync.WaitGroup
	codes := make([]int, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, _ := postImage(t, hs.URL+"/v1/predict", "image/png", img)
			codes[i] = resp.StatusCode
		}()
		if i == 0 {
			<-g.entered // the first request holds the model
		}
	}
	waitFor(t, "9 queued images", func() bool { return s.b.depth() == n-1 })
	close(g.release)
	wg.Wait()
	for i, c := range codes {
		if c != 200 {
			t.Errorf("request %d: status %d", i, c)
		}
	}
	if got := g.batches(); len(got) != 2 || got[0] != 1 || got[1] != n-1 {
		t.Errorf("batches %v, want [1 %d]", got, n-1)
	}
}

// A lone request does not wait for company: with nothing else arriving the
// batcher runs it at once, long before MaxWait.
func TestLoneRequestDoesNotWait(t *testing.T) {
	_, hs := newTestServer(t, makeRun(t), func(c *Config) { c.MaxWait = time.Minute; c.Timeout = 5 * time.Second })
	for i := range 3 {
		if resp, b := postImage(t, hs.URL+"/v1/predict", "image/png", cellPNG(t, i, nil)); resp.StatusCode != 200 {
			t.Fatalf("request %d: %d %s (did it wait for MaxWait?)", i, resp.StatusCode, b)
		}
	}
}

// A full queue answers 503 at once with Retry-After, and the requests
// already queued are answered.
func TestQueueFullAndTimeout(t *testing.T) {
	g := newGate()
	s, hs := newTestServer(t, makeRun(t), func(c *Config) {
		c.beforeBatch = g.hook
		c.Queue = 3
		c.MaxBatch = 1
		c.Timeout = 3 * time.Second
	})
	img := cellPNG(t, 4, nil)
	var wg sync.WaitGroup
	codes := make([]int, 4)
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, _ := postImage(t, hs.URL+"/v1/predict", "image/png", img)
			codes[i] = resp.StatusCode
		}()
		if i == 0 {
			<-g.entered
		}
	}
	waitFor(t, "a full queue", func() bool { return s.b.depth() == 3 })
	t0 := time.Now()
	resp, b := postImage(t, hs.URL+"/v1/predict", "image/png", img)
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" || !strings.Contains(string(b), "queue") {
		t.Errorf("full queue: %d Retry-After %q %s", resp.StatusCode, resp.Header.Get("Retry-After"), b)
	}
	if d := time.Since(t0); d > time.Second {
		t.Errorf("refusal took %v", d)
	}
	// Two images do not fit where one does not: all or nothing.
	ct, two := multipartBody(t, [][]byte{img, img})
	if resp, _ := postImage(t, hs.URL+"/v1/predict", ct, two); resp.StatusCode != 503 {
		t.Errorf("two images on a full queue: %d", resp.StatusCode)
	}
	// Held past the deadline, the first request times out with 503.
	wg.Wait()
	close(g.release)
	for i, c := range codes {
		if c != 503 {
			t.Errorf("request %d held past its deadline: %d, want 503", i, c)
		}
	}
	// The batcher skips the abandoned jobs, freeing the queue.
	waitFor(t, "an empty queue", func() bool { return s.b.depth() == 0 })
	if resp, b := postImage(t, hs.URL+"/v1/predict", "image/png", img); resp.StatusCode != 200 {
		t.Errorf("after the jam: %d %s", resp.StatusCode, b)
	}
}

// Shutdown lets requests in flight finish.
func TestGracefulShutdown(t *testing.T) {
	g := newGate()
	s, err := New(Config{Dir: makeRun(t), Watch: -1, beforeBatch: g.hook, MaxWait: -1})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, ln, 10*time.Second) }()
	url := "http://" + ln.Addr().String()
	img := cellPNG(t, 5, nil)
	const n = 5
	codes := make(chan int, n)
	for i := range n {
		go func() {
			resp, err := http.Post(url+"/v1/predict", "image/png", bytes.NewReader(img))
			if err != nil {
				codes <- -1
				return
			}
			resp.Body.Close()
			codes <- resp.StatusCode
		}()
		if i == 0 {
			<-g.entered
		}
	}
	waitFor(t, "queued requests", func() bool { return s.b.depth() == n-1 })
	cancel()
	waitFor(t, "draining", func() bool { return s.draining.Load() })
	time.Sleep(50 * time.Millisecond)
	close(g.release)
	for range n {
		if c := <-codes; c != 200 {
			t.Errorf("request in flight at shutdown: %d", c)
		}
	}
	if err := <-served; err != nil {
		t.Errorf("Serve: %v", err)
	}
	if _, err := http.Post(url+"/v1/predict", "image/png", bytes.NewReader(img)); err == nil {
		t.Error("the server still answers after shutdown")
	}
}

// Reloading new weights while requests stream in drops none of them.
func TestReloadWithoutDroppingRequests(t *testing.T) {
	dir := makeRun(t)
	s, hs := newTestServer(t, dir, func(c *Config) { c.Watch = 20 * time.Millisecond; c.NoDrift = true })
	v0 := s.cur.Load().version
	img := cellPNG(t, 6, nil)
	stop := make(chan struct{})
	var mu sync.Mutex
	seen := map[string]int{}
	var bad []string
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, b := postImage(t, hs.URL+"/v1/predict", "image/png", img)
				mu.Lock()
				if resp.StatusCode != 200 {
					bad = append(bad, string(b))
				} else {
					seen[decodePredict(t, b).Model.Version]++
				}
				mu.Unlock()
			}
		}()
	}
	time.Sleep(100 * time.Millisecond)
	writeWeights(t, dir, 2) // the watcher picks this one up
	waitFor(t, "the watcher's reload", func() bool { return s.cur.Load().version != v0 })
	v1 := s.cur.Load().version
	time.Sleep(100 * time.Millisecond)
	writeWeights(t, dir, 3)
	resp, b := do(t, mustReq(t, "POST", hs.URL+"/v1/reload", nil))
	var rr struct {
		Reloaded          bool
		Previous, Version string
	}
	json.Unmarshal(b, &rr)
	if resp.StatusCode != 200 || (rr.Version == v1 && s.cur.Load().version == v1) {
		t.Errorf("reload: %d %s", resp.StatusCode, b)
	}
	time.Sleep(100 * time.Millisecond)
	close(stop)
	wg.Wait()
	if len(bad) > 0 {
		t.Errorf("%d requests failed during reloads: %v", len(bad), bad[0])
	}
	if seen[v0] == 0 || seen[s.cur.Load().version] == 0 {
		t.Errorf("versions answered %v; want the first (%s) and the last (%s)", seen, v0, s.cur.Load().version)
	}
	// Broken weights are refused and the model stays.
	cur := s.cur.Load().version
	if err := writeBytes(dir, "best.safetensors", []byte("not a safetensors file")); err != nil {
		t.Fatal(err)
	}
	resp, b = do(t, mustReq(t, "POST", hs.URL+"/v1/reload", nil))
	if resp.StatusCode != 500 || !strings.Contains(string(b), "still serving "+cur) {
		t.Errorf("reload of broken weights: %d %s", resp.StatusCode, b)
	}
	if resp, _ := postImage(t, hs.URL+"/v1/predict", "image/png", img); resp.StatusCode != 200 || s.cur.Load().version != cur {
		t.Errorf("after a failed reload: %d, version %s (was %s)", resp.StatusCode, s.cur.Load().version, cur)
	}
}

func TestExplain(t *testing.T) {
	_, hs := newTestServer(t, makeRun(t), nil)
	img := cellPNG(t, 7, nil)
	for _, q := range []string{"", "?class=basophil", "?class=3&method=gradcampp"} {
		resp, b := postImage(t, hs.URL+"/v1/explain"+q, "image/png", img)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", q, resp.StatusCode, b)
		}
		var er ExplainResponse
		if err := json.Unmarshal(b, &er); err != nil {
			t.Fatal(err)
		}
		checkPrediction(t, er.Prediction)
		h := er.Heatmap
		if h.Width != testSize || h.Height != testSize || len(h.Values) != testSize*testSize {
			t.Fatalf("%s: heat map %dx%d with %d values", q, h.Width, h.Height, len(h.Values))
		}
		for _, v := range h.Values {
			if v < 0 || v > 1 {
				t.Fatalf("%s: heat value %g outside [0, 1]", q, v)
			}
		}
		switch q {
		case "":
			if er.Class != er.Label {
				t.Errorf("explained %s, not the top class %s", er.Class, er.Label)
			}
		case "?class=basophil":
			if er.ClassIndex != 0 || er.Class != "basophil" {
				t.Errorf("explained %s (%d), want basophil (0)", er.Class, er.ClassIndex)
			}
		default:
			if er.ClassIndex != 3 || er.Method != "gradcampp" {
				t.Errorf("explained class %d by %s, want 3 by gradcampp", er.ClassIndex, er.Method)
			}
		}
		for _, p := range []string{er.HeatmapPNG, er.OverlayPNG} {
			raw, err := base64.StdEncoding.DecodeString(p)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := png.Decode(bytes.NewReader(raw)); err != nil {
				t.Errorf("%s: bad PNG: %v", q, err)
			}
		}
	}
	for _, q := range []string{"?class=nope", "?class=8", "?method=lime"} {
		if resp, _ := postImage(t, hs.URL+"/v1/explain"+q, "image/png", img); resp.StatusCode != 400 {
			t.Errorf("%s: %d, want 400", q, resp.StatusCode)
		}
	}
}

// The server's drift watch: quiet while the window fills, in alert after
// colour-shifted images, and both in /metrics.
func TestDriftWatch(t *testing.T) {
	s, hs := newTestServer(t, makeRun(t), func(c *Config) { c.Drift.Window = 60; c.Drift.MinWindow = 40 })
	var dr DriftResponse
	waitFor(t, "the drift reference", func() bool {
		getJSON(t, hs.URL+"/v1/drift", &dr)
		return dr.Status == "ready"
	})
	if dr.Report.State != "warming_up" {
		t.Errorf("state %q before any image", dr.Report.State)
	}
	var imgs [][]byte
	for i := range 60 {
		imgs = append(imgs, cellPNG(t, i, []float32{0.8, 0.95, 1.15}))
	}
	for lo := 0; lo < len(imgs); lo += 20 {
		ct, body := multipartBody(t, imgs[lo:lo+20])
		if resp, b := postImage(t, hs.URL+"/v1/predict", ct, body); resp.StatusCode != 200 {
			t.Fatalf("%d %s", resp.StatusCode, b)
		}
	}
	getJSON(t, hs.URL+"/v1/drift", &dr)
	if !dr.Report.Alert || dr.Report.State != "alert" || dr.Report.Window != 60 {
		t.Errorf("after 60 colour-shifted images: state %q window %d; reasons %v", dr.Report.State, dr.Report.Window, dr.Report.Reasons)
	}
	resp, b := do(t, mustReq(t, "GET", hs.URL+"/metrics", nil))
	text := string(b)
	for _, want := range []string{
		"deepscope_drift_alert 1",
		`deepscope_drift_ks_statistic{feature="mean_r"}`,
		"deepscope_drift_mmd2",
		`deepscope_http_requests_total{code="200",route="POST /v1/predict"} 3`,
		"deepscope_batch_size_bucket",
		"deepscope_queue_depth 0",
		"deepscope_predictions_total{class=",
		"deepscope_inference_duration_seconds_count",
		`deepscope_model_info{name="run",version="` + s.cur.Load().version + `"} 1`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if resp.StatusCode != 200 {
		t.Errorf("/metrics: %d", resp.StatusCode)
	}
}
