package main

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/deepscope/deepscope/data"
)

func TestDataGet(t *testing.T) {
	body := []byte("pretend this is bloodmnist_64.npz")
	var requests atomic.Int32
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		if r.URL.Path != "/bloodmnist_64.npz" {
			http.NotFound(w, r)
			return
		}
		http.ServeContent(w, r, "x", time.Time{}, bytes.NewReader(body))
	}))
	defer ts.Close()
	t.Setenv(medmnistURLEnv, ts.URL)
	dir := t.TempDir()
	run := func(args ...string) (string, error) {
		root := newRoot()
		var out bytes.Buffer
		root.SetOut(&out)
		root.SetErr(&out)
		root.SetArgs(append([]string{"data", "get"}, args...))
		err := root.Execute()
		return out.String(), err
	}
	// The served bytes are not the real archive, so the checksum fails and
	// nothing is kept.
	_, err := run("bloodmnist", "--size", "64", "--dir", dir)
	if err == nil || !strings.Contains(err.Error(), "MD5") {
		t.Fatalf("checksum of a fake archive: %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("files left after a failed check: %v", entries)
	}
	if requests.Load() != 1 {
		t.Errorf("%d requests, want 1", requests.Load())
	}
	// Usage errors.
	for _, args := range [][]string{{"nosuchmnist"}, {"bloodmnist", "--size", "32"}, {}} {
		if _, err := run(args...); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
	out, err := run("--list")
	if err != nil || !strings.Contains(out, "chestmnist") || !strings.Contains(out, "multi-label") {
		t.Errorf("--list: %v\n%s", err, out)
	}
}

func TestDataGetSaves(t *testing.T) {
	body := []byte("archive bytes")
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/dermamnist_128.npz" || r.URL.Query().Get("download") != "1" {
			http.NotFound(w, r)
			return
		}
		http.ServeContent(w, r, "x", time.Time{}, bytes.NewReader(body))
	}))
	defer ts.Close()
	sum := md5.Sum(body)
	lookup := medmnistLookup
	defer func() { medmnistLookup = lookup }()
	medmnistLookup = func(name string) (data.MedMNISTSet, error) {
		s, err := lookup(name)
		s.MD5 = map[int]string{128: hex.EncodeToString(sum[:])}
		return s, err
	}
	dir := filepath.Join(t.TempDir(), "new")
	var out bytes.Buffer
	err := runDataGet(t.Context(), "DermaMNIST", dataGetOptions{size: 128, dir: dir, baseURL: ts.URL + "/"}, &out, &out)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "dermamnist_128.npz")); !bytes.Equal(b, body) {
		t.Errorf("saved %q", b)
	}
	if !strings.Contains(out.String(), "verified") {
		t.Errorf("output %q", out.String())
	}
}
