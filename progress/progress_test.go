package progress

import (
	"bytes"
	"io"
	"math"
	"os"
	"strings"
	"testing"
	"time"
)

// clock is a fake time source moved by hand.
type clock struct{ t time.Time }

func (c *clock) now() time.Time      { return c.t }
func (c *clock) add(d time.Duration) { c.t = c.t.Add(d) }
func newClock() *clock               { return &clock{time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }
func fixedWidth(n int) func() int    { return func() int { return n } }
func sec(s float64) time.Duration    { return time.Duration(s * float64(time.Second)) }
func lines(b *bytes.Buffer) []string {
	return strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
}
func plain(total int, label string) (*Progress, *bytes.Buffer, *clock) {
	var b bytes.Buffer
	c := newClock()
	return newProgress(&b, total, label, false, fixedWidth(0), c.now), &b, c
}

func TestFormatDuration(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, "0s"},
		{-time.Second, "0s"},
		{sec(0.4), "0s"},
		{sec(0.5), "1s"},
		{sec(59.4), "59s"},
		{sec(59.6), "1m00s"},
		{sec(65), "1m05s"},
		{sec(3600), "1h00m00s"},
		{sec(3723), "1h02m03s"},
		{sec(100 * 3600), "100h00m00s"},
	}
	for _, tc := range tests {
		if got := FormatDuration(tc.d); got != tc.want {
			t.Errorf("FormatDuration(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
}

func TestETA(t *testing.T) {
	tests := []struct {
		elapsed     time.Duration
		done, total int
		want        time.Duration
		ok          bool
	}{
		{sec(10), 25, 100, sec(30), true}, // a quarter in 10 s: 30 s left
		{sec(10), 50, 100, sec(10), true},
		{sec(3), 1, 1000, sec(2997), true},
		{sec(10), 100, 100, 0, true},
		{sec(10), 120, 100, 0, true}, // overshoot: nothing left
		{sec(10), 0, 100, 0, false},  // nothing done: unknown
		{sec(10), 5, 0, 0, false},    // no total: unknown
		{0, 10, 100, 0, true},
	}
	for _, tc := range tests {
		got, ok := eta(tc.elapsed, tc.done, tc.total)
		if got != tc.want || ok != tc.ok {
			t.Errorf("eta(%v, %d, %d) = %v, %v; want %v, %v", tc.elapsed, tc.done, tc.total, got, ok, tc.want, tc.ok)
		}
	}

	// Through the clock: the estimate follows the average rate since New.
	p, _, c := plain(200, "")
	if _, ok := p.ETA(); ok {
		t.Error("ETA known before any work")
	}
	c.add(sec(4))
	p.Update(50)
	if d, ok := p.ETA(); !ok || d != sec(12) {
		t.Errorf("50/200 after 4s: ETA %v, %v; want 12s", d, ok)
	}
	c.add(sec(16)) // slowed down: 150 in 20 s
	p.Update(150)
	if d, ok := p.ETA(); !ok || d != sec(20.0/3) {
		t.Errorf("150/200 after 20s: ETA %v, %v; want 6.67s", d, ok)
	}
}

func TestFloat(t *testing.T) {
	tests := []struct {
		v    float64
		want string
	}{
		{0.43217, "0.4322"},
		{12.3456, "12.35"},
		{999.94, "999.9"},
		{1234.4, "1234"},
		{-2500.6, "-2501"},
		{0.00012345, "0.0001234"},
		{0, "0"},
		{2e9, "2e+09"},
		{math.NaN(), "NaN"},
		{math.Inf(1), "+Inf"},
	}
	for _, tc := range tests {
		if f := Float("x", tc.v); f.Value != tc.want || f.Name != "x" {
			t.Errorf("Float(%v) = %+v, want value %q", tc.v, f, tc.want)
		}
	}
	if f := Int("batch", 42); f.Value != "42" {
		t.Errorf("Int(42) = %+v", f)
	}
}

func TestPlainLines(t *testing.T) {
	// 100 steps, one every 0.5 s: a line at each tenth (every 5 s, above the
	// 1 s gap) up to 90%, then Done's final line.
	p, b, c := plain(100, "epoch 1/3")
	for i := 1; i <= 100; i++ {
		c.add(sec(0.5))
		p.Update(i, Float("loss", 1/float64(i)), Float("images/s", 64/0.5))
	}
	p.Done()
	got := lines(b)
	if len(got) != 10 {
		t.Fatalf("%d lines, want 10:\n%s", len(got), b)
	}
	if want := "epoch 1/3  10/100  10%  loss 0.1  images/s 128  ETA 45s"; got[0] != want {
		t.Errorf("first line %q, want %q", got[0], want)
	}
	if want := "epoch 1/3  50/100  50%  loss 0.02  images/s 128  ETA 25s"; got[4] != want {
		t.Errorf("fifth line %q, want %q", got[4], want)
	}
	if want := "epoch 1/3  100/100  100%  loss 0.01  images/s 128  took 50s"; got[9] != want {
		t.Errorf("final line %q, want %q", got[10], want)
	}
}

func TestPlainRateLimits(t *testing.T) {
	tests := []struct {
		name  string
		total int
		step  time.Duration // clock advance per update
		n     int           // updates
		lines int           // lines before Done
	}{
		// Fast loop: tenths come every 0.1 s, but lines at most once a second.
		{"fast", 100, sec(0.01), 100, 0},
		{"fast longer", 1000, sec(0.01), 1000, 9},
		// Slow loop: a tenth takes 500 s; lines every 10 s meanwhile.
		{"slow", 1000, sec(5), 20, 10},
		// Every update a tenth, well apart: a line each, but the last.
		{"tenths", 10, sec(25), 10, 9},
		// No total: only the 10 s lines.
		{"no total", 0, sec(1), 35, 3},
	}
	for _, tc := range tests {
		p, b, c := plain(tc.total, "train")
		for i := 1; i <= tc.n; i++ {
			c.add(tc.step)
			p.Update(i)
		}
		got := 0
		if b.Len() > 0 {
			got = len(lines(b))
		}
		p.Done()
		all := lines(b)
		if got != tc.lines || len(all) != tc.lines+1 {
			t.Errorf("%s: %d lines before Done and %d after, want %d and %d:\n%s", tc.name, got, len(all), tc.lines, tc.lines+1, b)
		}
		if last := all[len(all)-1]; !strings.Contains(last, "took ") || !strings.HasPrefix(last, "train  ") {
			t.Errorf("%s: final line %q", tc.name, last)
		}
	}
}

func TestPlainNoTotal(t *testing.T) {
	p, b, c := plain(0, "")
	c.add(sec(12))
	p.Update(300, Int("batch", 300))
	p.Done()
	want := "300  batch 300  elapsed 12s\n300  batch 300  took 12s\n"
	if b.String() != want {
		t.Errorf("got %q, want %q", b.String(), want)
	}
}

func TestDoneOnce(t *testing.T) {
	p, b, c := plain(10, "x")
	c.add(sec(1))
	p.Update(10, Float("loss", 0.5))
	p.Done(Float("loss", 0.25))
	n := b.Len()
	p.Update(5)
	p.Done()
	if b.Len() != n {
		t.Errorf("output after Done: %q", b.String()[n:])
	}
	if !strings.HasSuffix(b.String(), "x  10/10  100%  loss 0.25  took 1s\n") {
		t.Errorf("Done fields not shown: %q", b.String())
	}
}

func TestTerminal(t *testing.T) {
	var b bytes.Buffer
	c := newClock()
	p := newProgress(&b, 500, "epoch 2/10", true, fixedWidth(72), c.now)
	draws := 0
	for i := 1; i <= 500; i++ {
		c.add(sec(0.01)) // 100 updates a second, at i * 10 ms
		before := b.Len()
		p.Update(i, Float("loss", 0.5))
		if b.Len() > before {
			draws++
		}
	}
	// Redraws at updates 1, 11, ..., 491 (100 ms apart), and the last.
	if draws != 51 {
		t.Errorf("%d redraws for 5 s of updates, want 51", draws)
	}
	p.Done()
	out := b.String()
	if !strings.HasSuffix(out, "\n") || strings.Count(out, "\n") != 1 {
		t.Errorf("terminal output should end with the only newline: %q", out[len(out)-80:])
	}
	for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\r")[1:] {
		if len(l) > 71 {
			t.Errorf("line of %d columns on a 72-column terminal: %q", len(l), l)
		}
	}
	last := out[strings.LastIndex(out, "\r")+1 : len(out)-1]
	want := "epoch 2/10 [" + strings.Repeat("=", 30) + "] 500/500  loss 0.5  took 5s"
	if last != want {
		t.Errorf("final line %q, want %q", last, want)
	}
	// The mid-way frame: 251 done in 2.51 s, 249 left: ETA 2.49 s.
	mid := "\repoch 2/10 [" + strings.Repeat("=", 15) + ">" + strings.Repeat(" ", 14) + "] 251/500  loss 0.5  ETA 2s"
	if !strings.Contains(out, mid) {
		t.Errorf("no frame %q in the output", mid)
	}
}

func TestTerminalFit(t *testing.T) {
	tests := []struct {
		width   int
		bar     bool
		maxCols int
	}{
		{120, true, 119},
		{80, true, 79},
		{60, false, 59}, // no room for a 5-column bar
		{20, false, 19}, // cut
	}
	for _, tc := range tests {
		var b bytes.Buffer
		c := newClock()
		p := newProgress(&b, 100, "epoch 10/10", true, fixedWidth(tc.width), c.now)
		c.add(sec(2))
		p.Update(40, Float("loss", 0.1234), Float("images/s", 1500))
		line := strings.TrimPrefix(b.String(), "\r")
		if len(line) > tc.maxCols || strings.Contains(line, "[") != tc.bar {
			t.Errorf("width %d: %q (%d columns), bar %v; want at most %d columns, bar %v",
				tc.width, line, len(line), strings.Contains(line, "["), tc.maxCols, tc.bar)
		}
	}

	// A shorter line blanks out the rest of the longer one before it.
	var b bytes.Buffer
	c := newClock()
	p := newProgress(&b, 0, "", true, fixedWidth(80), c.now)
	p.Update(1, Field{"status", "a long status message"})
	c.add(sec(1))
	p.Update(2, Field{"status", "ok"})
	frames := strings.Split(b.String(), "\r")[1:]
	if len(frames) != 2 || len(frames[1]) != len(frames[0]) {
		t.Errorf("frames %q: the second should be padded to the first's length", frames)
	}
}

func TestBar(t *testing.T) {
	tests := []struct {
		n    int
		f    float64
		want string
	}{
		{10, 0, "          "},
		{10, 0.05, ">         "},
		{10, 0.5, "=====>    "},
		{10, 0.99, "=========>"},
		{10, 1, "=========="},
		{10, 1.5, "=========="},
		{10, -1, "          "},
		{10, math.NaN(), "          "},
		{0, 0.5, ""},
	}
	for _, tc := range tests {
		if got := bar(tc.n, tc.f); got != tc.want {
			t.Errorf("bar(%d, %v) = %q, want %q", tc.n, tc.f, got, tc.want)
		}
	}
}

func TestNewDetectsNonTerminal(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	for _, out := range []io.Writer{&bytes.Buffer{}, w} {
		if p := New(out, 10, "x"); p.tty {
			t.Errorf("%T treated as a terminal", out)
		}
	}
}
