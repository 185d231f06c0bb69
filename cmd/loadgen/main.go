// Command loadgen measures a deepscope server under concurrent load: it
// sends the same image to POST /v1/predict from N workers for a bounded
// time (and at most a bounded number of requests), then reports the
// throughput and the latency percentiles of each concurrency level.
//
// It talks to loopback addresses only (127.0.0.0/8, ::1, localhost): it is
// a measuring tool, not a way to load someone else's server.
//
//	deepscope serve --model RUN --quiet &
//	loadgen -c 1,16,64 --duration 10s
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"image"
	"image/png"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/deepscope/deepscope/synth"
)

// Bounds on a run, whatever the flags say.
const (
	maxDuration = 10 * time.Minute
	maxRequests = 1_000_000
	maxWorkers  = 1024
)

func main() {
	var (
		target   = flag.String("url", "http://127.0.0.1:8080/v1/predict", "predict endpoint of a server on this machine")
		imgPath  = flag.String("image", "", "image to send (default: a synthetic cell at the model's input size)")
		levels   = flag.String("c", "1,16,64", "concurrency levels, comma-separated")
		duration = flag.Duration("duration", 10*time.Second, "time at each level (at most 10m)")
		requests = flag.Int("requests", 0, "stop a level after this many requests (0: only the duration bounds it)")
		perReq   = flag.Int("images", 1, "images per request (more than one: multipart)")
		warmup   = flag.Duration("warmup", time.Second, "unmeasured load before each level")
		timeout  = flag.Duration("timeout", 30*time.Second, "per-request timeout")
		asJSON   = flag.Bool("json", false, "one JSON object per level")
	)
	flag.Parse()
	if err := run(*target, *imgPath, *levels, *duration, *requests, *perReq, *warmup, *timeout, *asJSON, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

func run(target, imgPath, levels string, duration time.Duration, requests, perReq int, warmup, timeout time.Duration, asJSON bool, out io.Writer) error {
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return fmt.Errorf("bad --url %q", target)
	}
	if err := checkLoopback(u.Hostname()); err != nil {
		return err
	}
	conc, err := parseLevels(levels)
	if err != nil {
		return err
	}
	switch {
	case duration <= 0 || duration > maxDuration:
		return fmt.Errorf("--duration %v: want (0, %v]", duration, maxDuration)
	case requests < 0 || requests > maxRequests:
		return fmt.Errorf("--requests %d: want 0 to %d", requests, maxRequests)
	case perReq < 1 || perReq > 64:
		return fmt.Errorf("--images %d: want 1 to 64", perReq)
	case warmup < 0 || warmup > time.Minute:
		return fmt.Errorf("--warmup %v: want at most a minute", warmup)
	}
	img, err := loadImage(imgPath, u)
	if err != nil {
		return err
	}
	body, ctype := requestBody(img, perReq)
	client := &http.Client{Timeout: timeout, Transport: &http.Transport{
		MaxIdleConns: maxWorkers, MaxIdleConnsPerHost: maxWorkers, IdleConnTimeout: time.Minute}}
	enc := json.NewEncoder(out)
	if !asJSON {
		fmt.Fprintf(out, "%-6s %8s %8s %9s %9s %9s %9s %9s %10s  %s\n", "conc", "requests", "req/s", "img/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "cpu ms/img", "errors")
	}
	metricsURL := *u
	metricsURL.Path, metricsURL.RawQuery = "/metrics", ""
	for _, c := range conc {
		if warmup > 0 {
			load(client, target, ctype, body, c, warmup, 0)
		}
		cpu0 := serverCPU(client, metricsURL.String())
		r := load(client, target, ctype, body, c, duration, requests)
		cpu1 := serverCPU(client, metricsURL.String())
		r.Images = perReq
		s := r.summary()
		if cpu0 >= 0 && cpu1 >= cpu0 && s.OK > 0 {
			s.ServerCPUms = math.Round((cpu1-cpu0)/float64(s.OK*perReq)*1e6) / 1e3
		}
		if asJSON {
			if err := enc.Encode(s); err != nil {
				return err
			}
			continue
		}
		fmt.Fprintf(out, "%-6d %8d %8.1f %9.1f %9.2f %9.2f %9.2f %9.2f %10.2f  %s\n", c, s.OK, s.ReqPerS, s.ImgPerS,
			s.P50ms, s.P90ms, s.P99ms, s.MaxMS, s.ServerCPUms, s.errorText())
	}
	return nil
}

// checkLoopback refuses hosts that are not this machine's loopback.
func checkLoopback(host string) error {
	if host == "" {
		return errors.New("--url names no host")
	}
	ips, err := net.LookupIP(host)
	if err != nil {
		return fmt.Errorf("resolving %s: %w", host, err)
	}
	for _, ip := range ips {
		if !ip.IsLoopback() {
			return fmt.Errorf("%s resolves to %s, not a loopback address: loadgen only loads servers on this machine", host, ip)
		}
	}
	if len(ips) == 0 {
		return fmt.Errorf("%s resolves to nothing", host)
	}
	return nil
}

func parseLevels(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > maxWorkers {
			return nil, fmt.Errorf("concurrency %q: want 1 to %d", f, maxWorkers)
		}
		out = append(out, n)
	}
	return out, nil
}

// loadImage reads the image file, or draws a synthetic cell at the input
// size the server's /v1/models reports (64 px when it cannot say).
func loadImage(path string, predict *url.URL) ([]byte, error) {
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		if _, _, err := image.DecodeConfig(bytes.NewReader(b)); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return b, nil
	}
	size := 64
	m := *predict
	m.Path = strings.TrimSuffix(m.Path, "/predict") + "/models"
	if resp, err := http.Get(m.String()); err == nil {
		var mr struct {
			Models []struct {
				Input struct{ Size int } `json:"input"`
			} `json:"models"`
		}
		if json.NewDecoder(resp.Body).Decode(&mr) == nil && len(mr.Models) > 0 && mr.Models[0].Input.Size >= 16 {
			size = mr.Models[0].Input.Size
		}
		resp.Body.Close()
	}
	cfg := synth.Config{N: 8, Size: size, Seed: 1}
	items, err := synth.Plan(cfg)
	if err != nil {
		return nil, err
	}
	t := synth.Render(cfg, items[0])
	img := image.NewNRGBA(image.Rect(0, 0, size, size))
	for p := 0; p < size*size; p++ {
		for c := 0; c < 3; c++ {
			img.Pix[4*p+c] = uint8(min(max(t.Data[3*p+c], 0), 1)*255 + 0.5)
		}
		img.Pix[4*p+3] = 255
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// requestBody is the raw image, or a multipart body of n copies.
func requestBody(img []byte, n int) ([]byte, string) {
	if n == 1 {
		return img, "image/png"
	}
	var buf bytes.Buffer
	const boundary = "loadgen-boundary-7f3a"
	for i := 0; i < n; i++ {
		fmt.Fprintf(&buf, "--%s\r\nContent-Disposition: form-data; name=\"image\"; filename=\"%d.png\"\r\nContent-Type: image/png\r\n\r\n", boundary, i)
		buf.Write(img)
		buf.WriteString("\r\n")
	}
	fmt.Fprintf(&buf, "--%s--\r\n", boundary)
	return buf.Bytes(), "multipart/form-data; boundary=" + boundary
}

// result is what one level's workers saw.
type result struct {
	Conc    int
	Images  int
	Elapsed time.Duration
	Lat     []time.Duration // of successful requests
	Codes   map[int]int     // status codes other than 200; 0 for transport errors
}

// load runs c workers for d or until n requests (0: no count bound).
func load(client *http.Client, target, ctype string, body []byte, c int, d time.Duration, n int) *result {
	var sent atomic.Int64
	deadline := time.Now().Add(d)
	var mu sync.Mutex
	r := &result{Conc: c, Codes: map[int]int{}}
	var wg sync.WaitGroup
	t0 := time.Now()
	for range c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var lat []time.Duration
			codes := map[int]int{}
			for time.Now().Before(deadline) && (n == 0 || sent.Add(1) <= int64(n)) {
				s := time.Now()
				resp, err := client.Post(target, ctype, bytes.NewReader(body))
				if err != nil {
					codes[0]++
					time.Sleep(10 * time.Millisecond) // do not spin on a refused connection
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					codes[resp.StatusCode]++
					continue
				}
				lat = append(lat, time.Since(s))
			}
			mu.Lock()
			r.Lat = append(r.Lat, lat...)
			for k, v := range codes {
				r.Codes[k] += v
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	r.Elapsed = time.Since(t0)
	return r
}

// Summary is one level's figures.
type Summary struct {
	Conc    int         `json:"concurrency"`
	OK      int         `json:"ok"`
	Errors  map[int]int `json:"errors,omitempty"` // by status code; 0: connection errors
	Seconds float64     `json:"seconds"`
	ReqPerS float64     `json:"req_per_s"`
	ImgPerS float64     `json:"img_per_s"`
	P50ms   float64     `json:"p50_ms"`
	P90ms   float64     `json:"p90_ms"`
	P99ms   float64     `json:"p99_ms"`
	MaxMS   float64     `json:"max_ms"`
	// ServerCPUms is the server's CPU time per image served (from its
	// process_cpu_seconds_total metric), which a busy shared machine
	// disturbs less than the wall-clock figures; 0 when unknown.
	ServerCPUms float64 `json:"server_cpu_ms_per_image,omitempty"`
}

func (r *result) summary() Summary {
	sort.Slice(r.Lat, func(i, j int) bool { return r.Lat[i] < r.Lat[j] })
	sec := r.Elapsed.Seconds()
	s := Summary{Conc: r.Conc, OK: len(r.Lat), Errors: r.Codes, Seconds: sec,
		ReqPerS: float64(len(r.Lat)) / sec, ImgPerS: float64(len(r.Lat)*r.Images) / sec,
		P50ms: ms(percentile(r.Lat, 0.50)), P90ms: ms(percentile(r.Lat, 0.90)), P99ms: ms(percentile(r.Lat, 0.99))}
	if len(r.Lat) > 0 {
		s.MaxMS = ms(r.Lat[len(r.Lat)-1])
	}
	if len(s.Errors) == 0 {
		s.Errors = nil
	}
	return s
}

func (s Summary) errorText() string {
	if len(s.Errors) == 0 {
		return "-"
	}
	var parts []string
	for code, n := range s.Errors {
		name := strconv.Itoa(code)
		if code == 0 {
			name = "conn"
		}
		parts = append(parts, fmt.Sprintf("%s:%d", name, n))
	}
	sort.Strings(parts)
	return strings.Join(parts, " ")
}

// serverCPU returns the server's process_cpu_seconds_total, or -1.
func serverCPU(client *http.Client, metricsURL string) float64 {
	resp, err := client.Get(metricsURL)
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "process_cpu_seconds_total "); ok {
			if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
				return f
			}
		}
	}
	return -1
}

// percentile returns the q-quantile (nearest rank) of sorted durations.
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
