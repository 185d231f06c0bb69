// Package tboard writes TensorBoard event files: scalars, images and
// histograms that TensorBoard shows while a model trains, and reads them
// back.
//
// An event file (events.out.tfevents.<unix time>.<hostname>) is a sequence
// of TFRecord-framed records, each a serialized tensorflow.Event protocol
// buffer. The format is small and stable, so this package writes it by hand
// (a few dozen lines of protobuf encoding and CRC-32C framing) rather than
// depending on TensorFlow or a protobuf runtime and generated code. Field
// numbers follow tensorboard/compat/proto/event.proto, summary.proto and
// histogram.proto.
//
// Writes are buffered. Flush and Close push the buffer to the file and sync
// it; a write also pushes the buffer when the last push is more than 30
// seconds old, so TensorBoard sees a long run progress. Records are only
// ever appended, so a crash loses at most the records not yet pushed (and
// may leave a partial last record, which readers, TensorBoard included,
// stop at); earlier records stay intact. A new Writer on the same directory
// starts a new file, which TensorBoard reads after the older ones.
package tboard

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// fileVersion is written in the first record of every file.
const fileVersion = "brain.Event:2"

// autoFlush is how stale the buffer may get before a write pushes it.
const autoFlush = 30 * time.Second

// Writer appends summaries to one event file. Its methods are safe for
// concurrent use. After the first error (a failed write, or a call after
// Close) every method returns that error.
type Writer struct {
	mu        sync.Mutex
	f         *os.File
	bw        *bufio.Writer
	path      string
	err       error
	now       func() time.Time
	lastFlush time.Time
	ev, rec   []byte // scratch buffers for the event and its record
}

// NewWriter creates dir if needed and starts a new event file in it.
func NewWriter(dir string) (*Writer, error) {
	return newWriter(dir, time.Now)
}

func newWriter(dir string, now func() time.Time) (*Writer, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("tboard: %w", err)
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	host = strings.NewReplacer("/", "_", `\`, "_").Replace(host)
	t := now()
	base := filepath.Join(dir, fmt.Sprintf("events.out.tfevents.%010d.%s", t.Unix(), host))
	// Two writers started in the same second get distinct names; the
	// suffix sorts after the plain name, so TensorBoard reads them in order.
	var f *os.File
	path := base
	for i := 1; ; i++ {
		f, err = os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err == nil || !errors.Is(err, os.ErrExist) || i > 100 {
			break
		}
		path = fmt.Sprintf("%s.%d", base, i)
	}
	if err != nil {
		return nil, fmt.Errorf("tboard: %w", err)
	}
	w := &Writer{f: f, bw: bufio.NewWriterSize(f, 64<<10), path: path, now: now, lastFlush: t}
	if err := w.write(0, func(e *enc) { e.string(3, fileVersion) }); err != nil {
		f.Close()
		return nil, err
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return nil, err
	}
	return w, nil
}

// Path returns the event file's path.
func (w *Writer) Path() string { return w.path }

// Scalar records v under tag at step. TensorBoard stores scalars as
// float32.
func (w *Writer) Scalar(tag string, step int64, v float64) error {
	return w.summary(tag, step, func(e *enc) { e.float(2, float32(v)) })
}

// Image records img, PNG-encoded, under tag at step. Gray images are
// stored as grayscale, opaque ones as RGB, others as RGBA.
func (w *Writer) Image(tag string, step int64, img image.Image) error {
	b := img.Bounds()
	if b.Empty() {
		return fmt.Errorf("tboard: image %q: empty (%v)", tag, b)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return fmt.Errorf("tboard: image %q: %w", tag, err)
	}
	colorspace := 4 // RGBA
	switch img.(type) {
	case *image.Gray, *image.Gray16:
		colorspace = 1
	default:
		if o, ok := img.(interface{ Opaque() bool }); ok && o.Opaque() {
			colorspace = 3
		}
	}
	return w.summary(tag, step, func(e *enc) {
		e.message(4, func(im *enc) {
			im.varint(1, uint64(b.Dy()))
			im.varint(2, uint64(b.Dx()))
			im.varint(3, uint64(colorspace))
			im.bytes(4, buf.Bytes())
		})
	})
}

// Histogram records the distribution of values under tag at step, binned
// into TensorFlow's default buckets (edges growing by 10% from ±1e-12), as
// TensorBoard's own writers do. NaN and infinite values are left out; it is
// an error if no finite value remains.
func (w *Writer) Histogram(tag string, step int64, values []float32) error {
	h, ok := newHistogram(values)
	if !ok {
		return fmt.Errorf("tboard: histogram %q: no finite values among %d", tag, len(values))
	}
	return w.summary(tag, step, func(e *enc) { e.message(5, h.encode) })
}

// summary writes an Event holding a Summary with one Value: the tag and
// whatever fill adds.
func (w *Writer) summary(tag string, step int64, fill func(*enc)) error {
	if tag == "" {
		return errors.New("tboard: empty tag")
	}
	return w.write(step, func(e *enc) {
		e.message(5, func(s *enc) {
			s.message(1, func(v *enc) {
				v.string(1, tag)
				fill(v)
			})
		})
	})
}

// write frames one Event (wall time, step, then the fields fill adds) and
// appends it to the buffer.
func (w *Writer) write(step int64, fill func(*enc)) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return w.err
	}
	now := w.now()
	e := enc{b: w.ev[:0]}
	e.double(1, float64(now.UnixNano())/1e9)
	if step != 0 { // proto3 leaves default values out
		e.varint(2, uint64(step))
	}
	fill(&e)
	w.ev = e.b
	w.rec = appendRecord(w.rec[:0], e.b)
	if _, err := w.bw.Write(w.rec); err != nil {
		return w.fail(err)
	}
	if now.Sub(w.lastFlush) > autoFlush {
		w.lastFlush = now
		if err := w.bw.Flush(); err != nil {
			return w.fail(err)
		}
	}
	return nil
}

// fail records the first error, naming the file.
func (w *Writer) fail(err error) error {
	w.err = fmt.Errorf("tboard: %s: %w", w.path, err)
	return w.err
}

// Flush writes the buffered records to the file and syncs it to disk.
func (w *Writer) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return w.err
	}
	w.lastFlush = w.now()
	if err := w.bw.Flush(); err != nil {
		return w.fail(err)
	}
	if err := w.f.Sync(); err != nil {
		return w.fail(err)
	}
	return nil
}

// Close flushes and closes the file. Later calls return an error.
func (w *Writer) Close() error {
	err := w.Flush()
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return w.err
	}
	if cerr := w.f.Close(); err == nil && cerr != nil {
		err = w.fail(cerr)
	}
	w.f = nil
	if w.err == nil {
		w.err = fmt.Errorf("tboard: %s: writer closed", w.path)
	}
	return err
}
