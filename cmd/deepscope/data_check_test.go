package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"image"
	"image/color"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// writePNG writes a size×size PNG whose pattern depends on seed.
func writePNG(t *testing.T, path string, size, seed int) {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, size, size))
	for y := 0; y < size; y++ {
		for x := 0; x < size; x++ {
			v := uint8(40)
			if (x/(2+seed%5)+y/(3+seed%7)+seed)%3 == 0 {
				v = 220
			}
			img.SetNRGBA(x, y, color.NRGBA{v, uint8(x * 255 / size), uint8((seed * 40) % 256), 255})
		}
	}
	var buf bytes.Buffer
	png.Encode(&buf, img)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// cellFolder makes an ImageFolder of distinct images; with dirty, it also
// holds a duplicate and a truncated file.
func cellFolder(t *testing.T, dirty bool) string {
	dir := t.TempDir()
	for i := range 8 {
		writePNG(t, filepath.Join(dir, []string{"lymphocyte", "neutrophil"}[i%2], string(rune('a'+i))+".png"), 24, i)
	}
	if dirty {
		b, _ := os.ReadFile(filepath.Join(dir, "lymphocyte", "a.png"))
		os.WriteFile(filepath.Join(dir, "neutrophil", "a_again.png"), b, 0o644)
		os.WriteFile(filepath.Join(dir, "neutrophil", "cut.png"), b[:len(b)/3], 0o644)
	}
	return dir
}

func TestRunDataCheck(t *testing.T) {
	clean, dirty := cellFolder(t, false), cellFolder(t, true)
	for _, tc := range []struct {
		name string
		path string
		opt  dataCheckOptions
		code int
		want string
	}{
		{"clean", clean, dataCheckOptions{near: 4}, checkClean, "clean: no problems found"},
		{"dirty", dirty, dataCheckOptions{near: 4}, checkProblems, "PROBLEMS: 1 unreadable image; 1 group of exact duplicates"},
		{"missing", filepath.Join(clean, "nope"), dataCheckOptions{near: 4}, checkProblems, "nope"},
		{"bad near", clean, dataCheckOptions{near: 0}, checkUsage, "--near 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := runDataCheck(tc.path, tc.opt, &out, &errOut)
			if code != tc.code || !strings.Contains(out.String()+errOut.String(), tc.want) {
				t.Errorf("exit %d, want %d; output:\n%s%s\nwant %q", code, tc.code, out.String(), errOut.String(), tc.want)
			}
		})
	}
	// The JSON report.
	js := filepath.Join(t.TempDir(), "r.json")
	var out bytes.Buffer
	runDataCheck(dirty, dataCheckOptions{near: 4, jsonPath: js}, &out, &out)
	b, err := os.ReadFile(js)
	if err != nil {
		t.Fatal(err)
	}
	var r struct {
		Images          int               `json:"images"`
		Unreadable      []json.RawMessage `json:"unreadable"`
		ExactDuplicates []json.RawMessage `json:"exact_duplicates"`
	}
	if err := json.Unmarshal(b, &r); err != nil || r.Images != 10 || len(r.Unreadable) != 1 || len(r.ExactDuplicates) != 1 {
		t.Errorf("JSON report %+v, %v", r, err)
	}
}

// TestDataCheckExitStatus runs the command in a child process (this test
// binary) to see the real exit status.
func TestDataCheckExitStatus(t *testing.T) {
	if args := os.Getenv("DEEPSCOPE_TEST_ARGS"); args != "" {
		root := newRoot()
		root.SetArgs(strings.Split(args, "\x1f"))
		if err := root.Execute(); err != nil {
			os.Exit(1)
		}
		os.Exit(0)
	}
	clean, dirty := cellFolder(t, false), cellFolder(t, true)
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"data", "check", clean}, 0},
		{[]string{"data", "check", dirty, "--max-list", "1"}, 1},
		{[]string{"data", "check"}, 2},
		{[]string{"data", "check", clean, clean}, 2},
		{[]string{"data", "check", clean, "--no-such-flag"}, 2},
	} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestDataCheckExitStatus$")
		cmd.Env = append(os.Environ(), "DEEPSCOPE_TEST_ARGS="+strings.Join(tc.args, "\x1f"))
		out, err := cmd.CombinedOutput()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != tc.code {
			t.Errorf("%v: exit %d, want %d\n%s", tc.args, code, tc.code, out)
		}
	}
}
