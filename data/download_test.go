package data

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fileServer serves body at any path with Range support (http.ServeContent).
// breakAt > 0 makes the first request die after that many bytes; ranges
// records the Range header of each request.
type fileServer struct {
	body       []byte
	breakAt    int
	noRanges   bool
	status     int
	mu         sync.Mutex
	ranges     []string
	brokenOnce bool
}

func (s *fileServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.ranges = append(s.ranges, r.Header.Get("Range"))
	breakNow := s.breakAt > 0 && !s.brokenOnce
	s.brokenOnce = s.brokenOnce || breakNow
	s.mu.Unlock()
	if s.status != 0 {
		http.Error(w, "nope", s.status)
		return
	}
	if s.noRanges {
		r.Header.Del("Range")
	}
	if breakNow {
		w.Header().Set("Content-Length", strconv.Itoa(len(s.body)))
		w.WriteHeader(http.StatusOK)
		w.Write(s.body[:s.breakAt])
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler) // drop the connection mid-body
	}
	http.ServeContent(w, r, "f.npz", time.Time{}, bytes.NewReader(s.body))
}

func md5hex(b []byte) string {
	s := md5.Sum(b)
	return hex.EncodeToString(s[:])
}

func TestDownloadResumes(t *testing.T) {
	body := bytes.Repeat([]byte("0123456789abcdef"), 50000) // 800 kB
	fast := DownloadOptions{RetryDelay: time.Millisecond}
	for _, tc := range []struct {
		name       string
		srv        *fileServer
		part       []byte // a .part left by an earlier run
		wantRanges []string
	}{
		{"clean", &fileServer{body: body}, nil, []string{""}},
		{"broken then resumed", &fileServer{body: body, breakAt: 300000}, nil, []string{"", "bytes=300000-"}},
		{"earlier part", &fileServer{body: body}, body[:1234], []string{"bytes=1234-"}},
		{"server ignores ranges", &fileServer{body: body, noRanges: true}, body[:1234], []string{"bytes=1234-"}},
		{"part complete", &fileServer{body: body}, body, []string{"bytes=800000-"}},
		{"stale longer part", &fileServer{body: body}, append(bytes.Clone(body), "junk"...), []string{"bytes=800004-", ""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := httptest.NewServer(tc.srv)
			defer ts.Close()
			dest := filepath.Join(t.TempDir(), "bloodmnist.npz")
			if tc.part != nil {
				os.WriteFile(dest+".part", tc.part, 0o644)
			}
			var last int64
			opt := fast
			opt.Progress = func(done, total int64) { last = done }
			if err := Download(context.Background(), ts.URL+"/f.npz", dest, md5hex(body), opt); err != nil {
				t.Fatal(err)
			}
			got, _ := os.ReadFile(dest)
			if !bytes.Equal(got, body) {
				t.Fatalf("downloaded %d bytes, not the file", len(got))
			}
			if _, err := os.Stat(dest + ".part"); !os.IsNotExist(err) {
				t.Error(".part left behind")
			}
			if strings.Join(tc.srv.ranges, "|") != strings.Join(tc.wantRanges, "|") {
				t.Errorf("requests with Range %q, want %q", tc.srv.ranges, tc.wantRanges)
			}
			if last != 0 && last != int64(len(body)) {
				t.Errorf("last progress %d", last)
			}
		})
	}
}

func TestDownloadFailures(t *testing.T) {
	body := []byte("the archive")
	fast := DownloadOptions{RetryDelay: time.Millisecond, Retries: 2}

	srv := &fileServer{body: body}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	dir := t.TempDir()
	dest := filepath.Join(dir, "x.npz")
	err := Download(context.Background(), ts.URL, dest, md5hex([]byte("something else")), fast)
	if err == nil || !strings.Contains(err.Error(), "MD5") {
		t.Errorf("checksum mismatch: %v", err)
	}
	if _, e1 := os.Stat(dest); !os.IsNotExist(e1) {
		t.Error("unverified file renamed into place")
	}
	if _, e2 := os.Stat(dest + ".part"); !os.IsNotExist(e2) {
		t.Error("bad .part kept")
	}

	// Present and verified: no request at all.
	os.WriteFile(dest, body, 0o644)
	srv.ranges = nil
	if err := Download(context.Background(), ts.URL, dest, md5hex(body), fast); err != nil || len(srv.ranges) != 0 {
		t.Errorf("existing file: %v, %d requests", err, len(srv.ranges))
	}

	// 404 is final; 503 is retried Retries times.
	for _, tc := range []struct {
		status   int
		requests int
	}{{404, 1}, {503, 3}} {
		s := &fileServer{status: tc.status}
		ts := httptest.NewServer(s)
		err := Download(context.Background(), ts.URL, filepath.Join(dir, "y.npz"), "", fast)
		ts.Close()
		if err == nil || !strings.Contains(err.Error(), strconv.Itoa(tc.status)) || len(s.ranges) != tc.requests {
			t.Errorf("HTTP %d: %v after %d requests, want %d", tc.status, err, len(s.ranges), tc.requests)
		}
	}

	// A cancelled context stops at once.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Download(ctx, ts.URL, filepath.Join(dir, "z.npz"), "", fast); err == nil {
		t.Error("cancelled download succeeded")
	}
}

func TestMedMNISTTable(t *testing.T) {
	s, err := MedMNIST("BloodMNIST")
	if err != nil {
		t.Fatal(err)
	}
	if s.File(28) != "bloodmnist.npz" || s.File(64) != "bloodmnist_64.npz" || len(s.Classes) != 8 {
		t.Errorf("files %s %s classes %d", s.File(28), s.File(64), len(s.Classes))
	}
	if u := MedMNISTURL("", s, 224); u != "https://zenodo.org/records/10519652/files/bloodmnist_224.npz?download=1" {
		t.Errorf("url %s", u)
	}
	for _, name := range MedMNISTNames() {
		set, _ := MedMNIST(name)
		for _, size := range MedMNISTSizes {
			if len(set.MD5[size]) != 32 {
				t.Errorf("%s at %d px: MD5 %q", name, size, set.MD5[size])
			}
		}
	}
	if _, err := MedMNIST("mnist"); err == nil || !strings.Contains(err.Error(), "bloodmnist") {
		t.Errorf("unknown set: %v", err)
	}
}
