package serve

import (
	"bytes"
	"context"
	"image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// chromium returns the path of a Chromium or Chrome binary ($CHROMIUM
// first), or "".
func chromium() string {
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// headless runs Chromium without a window, network services or a shared
// profile on url with extra flags, and returns its standard output.
func headless(t *testing.T, bin, url string, extra ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	args := append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + t.TempDir(), "--virtual-time-budget=15000"}, extra...)
	cmd := exec.CommandContext(ctx, bin, append(args, url)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s: %v\n%s", bin, err, errb.String())
	}
	return out.Bytes()
}

// The web page, in headless Chromium: an image put into the file input
// comes back as class probability bars and a heat map over the image. The
// screenshot is kept in $DEEPSCOPE_ARTIFACTS (or the test's temporary
// directory, named in the log).
func TestPageInChromium(t *testing.T) {
	bin := chromium()
	if bin == "" {
		t.Skip("no Chromium found (set $CHROMIUM or install chromium); the web page is not tested")
	}
	if testing.Short() {
		t.Skip("-short: not starting a browser")
	}
	s, err := New(Config{Dir: makeRun(t), Watch: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	img := cellPNG(t, 8, nil)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /selftest.png", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		w.Write(img)
	})
	mux.Handle("/", s)
	hs := httptest.NewServer(mux) // 127.0.0.1:0
	defer hs.Close()
	url := hs.URL + "/?selftest=/selftest.png"

	dom := string(headless(t, bin, url, "--dump-dom"))
	checks := []struct {
		what string
		re   string
	}{
		{"the page finished", `<html[^>]*data-state="done"`},
		{"the model line", `<p id="model">run · cellnet · version [0-9a-f]{12} · 8 classes · 32 px`},
		{"a label with its probability", `<h2 id="label">[a-z]+ \(\d+\.\d%\)</h2>`},
		{"the heat map", `<img id="overlay" [^>]*src="data:image/png;base64,`},
		{"the caption", `Grad-CAM for [a-z]+`},
	}
	for _, c := range checks {
		if !regexp.MustCompile(c.re).MatchString(dom) {
			t.Errorf("no %s (%s) in the page:\n%s", c.what, c.re, dom)
		}
	}
	if n := strings.Count(dom, `<li data-class=`); n != 8 {
		t.Errorf("%d probability bars, want 8", n)
	}
	if strings.Contains(dom, `id="error" role="alert">`) && !strings.Contains(dom, `role="alert" hidden`) {
		t.Errorf("the page shows an error:\n%s", dom)
	}

	dir := os.Getenv("DEEPSCOPE_ARTIFACTS")
	if dir == "" {
		dir = t.TempDir()
	}
	shot := filepath.Join(dir, "serve-page.png")
	headless(t, bin, url, "--screenshot="+shot, "--window-size=1100,760", "--hide-scrollbars")
	f, err := os.Open(shot)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pic, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if b := pic.Bounds(); b.Dx() != 1100 || b.Dy() != 760 {
		t.Errorf("screenshot of %v, want 1100x760", b)
	}
	// The probability bars are drawn in the accent colour; a blank or
	// unstyled page has none of it.
	accent := 0
	for y := 0; y < pic.Bounds().Dy(); y += 2 {
		for x := 0; x < pic.Bounds().Dx(); x += 2 {
			r, g, b, _ := pic.At(x, y).RGBA()
			if r>>8 == 0x6b && g>>8 == 0x3f && b>>8 == 0xa0 {
				accent++
			}
		}
	}
	if accent < 50 {
		t.Errorf("the screenshot shows %d accent pixels; the page looks unstyled or empty", accent)
	}
	t.Logf("screenshot: %s", shot)
}
