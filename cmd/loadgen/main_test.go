package main

import (
	"bytes"
	"fmt"
	"image/png"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestCheckLoopback(t *testing.T) {
	cases := []struct {
		host string
		ok   bool
	}{
		{"127.0.0.1", true}, {"::1", true}, {"localhost", true}, {"127.3.2.1", true},
		{"10.0.0.1", false}, {"8.8.8.8", false}, {"", false},
	}
	for _, c := range cases {
		if err := checkLoopback(c.host); (err == nil) != c.ok {
			t.Errorf("checkLoopback(%q) = %v, want ok=%v", c.host, err, c.ok)
		}
	}
}

func TestPercentile(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 50 * time.Millisecond}, {0.99, 99 * time.Millisecond}, {1, 100 * time.Millisecond}, {0, time.Millisecond}} {
		if got := percentile(d, c.q); got != c.want {
			t.Errorf("percentile(%g) = %v, want %v", c.q, got, c.want)
		}
	}
	if percentile(nil, 0.5) != 0 {
		t.Error("percentile of nothing is not 0")
	}
}

func TestRunBoundsAndCounts(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v1/models":
			io.WriteString(w, `{"models":[{"input":{"size":32}}]}`)
			return
		case "/metrics": // 0.9 CPU seconds after the 45 images of a level
			fmt.Fprintf(w, "# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total %g\n", float64(hits.Load())/50*0.9)
			return
		}
		mt, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		n := 1
		if mt == "multipart/form-data" {
			n = 0
			mr := multipart.NewReader(r.Body, params["boundary"])
			for _, err := mr.NextPart(); err == nil; _, err = mr.NextPart() {
				n++
			}
		}
		if hits.Add(1)%10 == 0 {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, strings.Repeat("x", n))
	}))
	defer srv.Close()
	var out bytes.Buffer
	err := run(srv.URL+"/v1/predict", "", "1,4", 5*time.Second, 50, 2, 0, time.Second, true, &out)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], `"concurrency":1`) || !strings.Contains(lines[1], `"concurrency":4`) {
		t.Fatalf("output:\n%s", out.String())
	}
	if hits.Load() != 100 { // 50 requests a level, the count bound
		t.Errorf("%d requests, want 100", hits.Load())
	}
	if !strings.Contains(lines[0], `"errors":{"503":5}`) || !strings.Contains(lines[0], `"ok":45`) {
		t.Errorf("level 1: %s; want 45 ok and 5 errors of 503", lines[0])
	}
	if !strings.Contains(lines[0], `"server_cpu_ms_per_image":10`) { // 0.9 s over 90 images
		t.Errorf("level 1: %s; want 10 ms of server CPU per image", lines[0])
	}
	for _, bad := range []struct{ url, levels string }{
		{"http://10.1.2.3:8080/v1/predict", "1"},
		{srv.URL + "/v1/predict", "0"},
		{srv.URL + "/v1/predict", "1,x"},
		{"ftp://127.0.0.1/x", "1"},
	} {
		if err := run(bad.url, "", bad.levels, time.Second, 1, 1, 0, time.Second, true, io.Discard); err == nil {
			t.Errorf("run(%s, -c %s) gave no error", bad.url, bad.levels)
		}
	}
	if err := run(srv.URL+"/v1/predict", "", "1", time.Hour, 1, 1, 0, time.Second, true, io.Discard); err == nil {
		t.Error("a duration of an hour was accepted")
	}
	u, _ := url.Parse(srv.URL + "/v1/predict")
	img, err := loadImage("", u)
	if err != nil {
		t.Fatal(err)
	}
	if cfg, err := png.DecodeConfig(bytes.NewReader(img)); err != nil || cfg.Width != 32 {
		t.Errorf("synthetic image: %v, %d px wide; want the model's 32", err, cfg.Width)
	}
}
