// Package progress shows how far a long loop, such as one epoch of
// training, has got: a label, a bar, done/total, caller-supplied fields
// (loss, images/s) and the estimated time left.
//
// On a terminal one line is redrawn in place (with a carriage return) at
// most ten times a second, fitted to the terminal's width. Anywhere else (a
// log file, a pipe, CI) it prints plain lines instead: one at each tenth of
// the work (but not more than one a second) and one at least every ten
// seconds while work goes on, so logs stay short for fast loops and still
// show life in slow ones. Done prints the final line either way.
package progress

import (
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"
)

const (
	redrawEvery = 100 * time.Millisecond // terminal: at most 10 redraws a second
	logEvery    = 10 * time.Second       // plain: a line at least this often
	logMinGap   = time.Second            // plain: tenth-of-work lines at most this often
	logSteps    = 10                     // plain: a line at each 1/logSteps of the work
	maxBar      = 30                     // widest bar, in characters
)

// Field is a named value shown after the bar, such as the running loss.
type Field struct {
	Name  string
	Value string
}

// Float returns a field showing v with four significant digits, or as a
// whole number from 1000 up (so "images/s 1234", not "1.234e+03").
func Float(name string, v float64) Field {
	if a := math.Abs(v); a >= 1000 && a < 1e9 {
		return Field{name, strconv.FormatFloat(v, 'f', 0, 64)}
	}
	return Field{name, strconv.FormatFloat(v, 'g', 4, 64)}
}

// Int returns a field showing v.
func Int(name string, v int) Field { return Field{name, strconv.Itoa(v)} }

// Progress tracks one loop of total steps. Its methods are safe for
// concurrent use.
type Progress struct {
	mu     sync.Mutex
	w      io.Writer
	total  int
	label  string
	tty    bool
	width  func() int // terminal width in columns
	now    func() time.Time
	start  time.Time
	done   int
	fields []Field
	ended  bool

	lastDraw time.Time // terminal: time of the last redraw
	drawn    bool      // terminal: a line has been drawn
	prevLen  int       // terminal: length of the last line drawn

	lastLog time.Time // plain: time of the last line
	logDone int       // plain: done at the last line
	logStep int       // plain: tenth of the work reached at the last line
}

// New starts tracking total steps (total <= 0: unknown, so no bar or ETA),
// writing to w. The clock starts now; label names the loop, e.g.
// "epoch 3/10". Output is redrawn in place when w is an *os.File (or has an
// Fd method) that is a terminal, and plain lines otherwise.
func New(w io.Writer, total int, label string) *Progress {
	tty, width := false, func() int { return 0 }
	if f, ok := w.(interface{ Fd() uintptr }); ok {
		fd := int(f.Fd())
		if term.IsTerminal(fd) {
			tty = true
			width = func() int { return termWidth(fd) }
		}
	}
	return newProgress(w, total, label, tty, width, time.Now)
}

func newProgress(w io.Writer, total int, label string, tty bool, width func() int, now func() time.Time) *Progress {
	t := now()
	return &Progress{w: w, total: total, label: label, tty: tty, width: width, now: now,
		start: t, lastLog: t}
}

// termWidth returns the terminal's width, else $COLUMNS, else 80.
func termWidth(fd int) int {
	if w, _, err := term.GetSize(fd); err == nil && w > 0 {
		return w
	}
	if n, err := strconv.Atoi(os.Getenv("COLUMNS")); err == nil && n > 0 {
		return n
	}
	return 80
}

// Update records that done steps are finished and shows fields (which
// replace those of the previous Update) if it is time to redraw or log.
// Calls after Done are ignored.
func (p *Progress) Update(done int, fields ...Field) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ended {
		return
	}
	p.done = done
	p.fields = append(p.fields[:0], fields...)
	now := p.now()
	if p.tty {
		if !p.drawn || now.Sub(p.lastDraw) >= redrawEvery || (p.total > 0 && done >= p.total) {
			p.draw(now, false)
		}
		return
	}
	// Nothing new, or finished: Done prints the last line.
	if done == p.logDone || (p.total > 0 && done >= p.total) {
		return
	}
	step := p.step(done)
	since := now.Sub(p.lastLog)
	if since >= logEvery || (step > p.logStep && since >= logMinGap) {
		p.log(now, false)
	}
}

// Done prints the final line, with fields if any are given (else those of
// the last Update), and the time taken. Later calls do nothing.
func (p *Progress) Done(fields ...Field) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ended {
		return
	}
	p.ended = true
	if len(fields) > 0 {
		p.fields = append(p.fields[:0], fields...)
	}
	now := p.now()
	if p.tty {
		p.draw(now, true)
		io.WriteString(p.w, "\n")
		return
	}
	p.log(now, true)
}

// ETA returns the estimated time left, from the average rate since New:
// elapsed * (total - done) / done. It reports false while that is unknown
// (nothing done yet, or no total).
func (p *Progress) ETA() (time.Duration, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return eta(p.now().Sub(p.start), p.done, p.total)
}

func eta(elapsed time.Duration, done, total int) (time.Duration, bool) {
	if done <= 0 || total <= 0 {
		return 0, false
	}
	if done >= total {
		return 0, true
	}
	return time.Duration(float64(elapsed) * float64(total-done) / float64(done)), true
}

// step returns which tenth of the work done reaches.
func (p *Progress) step(done int) int {
	if p.total <= 0 {
		return 0
	}
	return min(done, p.total) * logSteps / p.total
}

// timing returns "ETA 1m05s" while running and "took 3m10s" at the end.
func (p *Progress) timing(now time.Time, final bool) string {
	elapsed := now.Sub(p.start)
	if final {
		return "took " + FormatDuration(elapsed)
	}
	if d, ok := eta(elapsed, p.done, p.total); ok {
		return "ETA " + FormatDuration(d)
	}
	return "elapsed " + FormatDuration(elapsed)
}

// count returns "120/500" or, without a total, "120".
func (p *Progress) count() string {
	if p.total <= 0 {
		return strconv.Itoa(p.done)
	}
	return strconv.Itoa(p.done) + "/" + strconv.Itoa(p.total)
}

// fieldText returns the fields as "loss 0.4321  images/s 812".
func (p *Progress) fieldText() string {
	var b strings.Builder
	for i, f := range p.fields {
		if i > 0 {
			b.WriteString("  ")
		}
		b.WriteString(f.Name)
		b.WriteByte(' ')
		b.WriteString(f.Value)
	}
	return b.String()
}

// log prints one plain line:
// "epoch 3/10  120/500  24%  loss 0.4321  images/s 812  ETA 38s".
func (p *Progress) log(now time.Time, final bool) {
	parts := []string{p.label, p.count()}
	if p.total > 0 {
		parts = append(parts, fmt.Sprintf("%d%%", min(p.done, p.total)*100/p.total))
	}
	if f := p.fieldText(); f != "" {
		parts = append(parts, f)
	}
	parts = append(parts, p.timing(now, final))
	if parts[0] == "" {
		parts = parts[1:]
	}
	io.WriteString(p.w, strings.Join(parts, "  ")+"\n")
	p.lastLog, p.logDone, p.logStep = now, p.done, p.step(p.done)
}

// draw redraws the terminal line:
// "epoch 3/10 [=====>      ] 120/500  loss 0.4321  images/s 812  ETA 38s",
// narrowing (then dropping) the bar and cutting the end to fit the width.
func (p *Progress) draw(now time.Time, final bool) {
	width := p.width()
	if width <= 0 {
		width = 80
	}
	rest := " " + p.count()
	if f := p.fieldText(); f != "" {
		rest += "  " + f
	}
	rest += "  " + p.timing(now, final)
	line := p.label
	if p.total > 0 {
		// The bar takes what the label and the rest leave, up to maxBar.
		if n := min(maxBar, width-1-len([]rune(p.label))-len([]rune(rest))-3); n >= 5 {
			if line != "" {
				line += " "
			}
			line += "[" + bar(n, float64(p.done)/float64(p.total)) + "]"
		}
	}
	if line == "" {
		rest = rest[1:]
	}
	line += rest
	if r := []rune(line); len(r) > width-1 {
		line = string(r[:width-1])
	}
	n := len([]rune(line))
	pad := ""
	if p.prevLen > n {
		pad = strings.Repeat(" ", p.prevLen-n)
	}
	io.WriteString(p.w, "\r"+line+pad)
	p.prevLen, p.lastDraw, p.drawn = n, now, true
}

// bar returns a bar n characters wide, filled to fraction f (clamped to
// [0, 1]): "=====>    ".
func bar(n int, f float64) string {
	if n <= 0 {
		return ""
	}
	f = max(0, min(1, f))
	if math.IsNaN(f) {
		f = 0
	}
	full := int(f * float64(n))
	if full >= n {
		return strings.Repeat("=", n)
	}
	if full == 0 && f == 0 {
		return strings.Repeat(" ", n)
	}
	return strings.Repeat("=", full) + ">" + strings.Repeat(" ", n-full-1)
}

// FormatDuration returns d rounded to the second, as "1h02m03s", "4m05s"
// or "7s".
func FormatDuration(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	s := int64((d + time.Second/2) / time.Second)
	h, m := s/3600, s/60%60
	switch {
	case h > 0:
		return fmt.Sprintf("%dh%02dm%02ds", h, m, s%60)
	case m > 0:
		return fmt.Sprintf("%dm%02ds", m, s%60)
	}
	return fmt.Sprintf("%ds", s)
}
