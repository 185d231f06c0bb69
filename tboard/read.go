package tboard

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"os"
)

// Event is one record of an event file: the first holds the FileVersion,
// the others summary Values.
type Event struct {
	WallTime    float64 // seconds since the Unix epoch
	Step        int64
	FileVersion string
	Values      []Value
}

// Kind says which of a Value's fields is set.
type Kind int

// The kinds of summary values this package writes; KindOther is any other
// (audio, tensor, or none).
const (
	KindOther Kind = iota
	KindScalar
	KindImage
	KindHistogram
)

// Value is one tagged summary value.
type Value struct {
	Tag       string
	Kind      Kind
	Scalar    float32    // KindScalar
	Image     *Image     // KindImage
	Histogram *Histogram // KindHistogram
}

// Image is an encoded image summary.
type Image struct {
	Height, Width int
	Colorspace    int    // 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA
	Encoded       []byte // PNG for images this package writes
}

// ReadEvents reads every event of the file at path, checking both CRCs of
// each record. On a corrupt, truncated or malformed record it returns the
// events before it and an error naming the file, the record's index and
// its byte offset.
func ReadEvents(path string) ([]Event, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("tboard: %w", err)
	}
	defer f.Close()
	return readEvents(bufio.NewReader(f), path)
}

// readEvents reads events from r until its end; name is used in errors.
func readEvents(r io.Reader, name string) ([]Event, error) {
	cr := &countReader{r: r}
	var evs []Event
	for i := 0; ; i++ {
		off := cr.n
		data, err := readRecord(cr)
		if err == io.EOF {
			return evs, nil
		}
		if err == nil {
			var ev Event
			if ev, err = decodeEvent(data); err == nil {
				evs = append(evs, ev)
				continue
			}
		}
		return evs, fmt.Errorf("tboard: %s: record %d at byte %d: %w", name, i, off, err)
	}
}

// countReader counts the bytes read through it.
type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// decodeEvent parses an Event, keeping the fields this package knows.
func decodeEvent(p []byte) (Event, error) {
	var ev Event
	d := dec{p}
	for len(d.b) > 0 {
		f, w, v, b, err := d.next()
		if err != nil {
			return ev, err
		}
		switch {
		case f == 1 && w == wireFixed64:
			ev.WallTime = math.Float64frombits(v)
		case f == 2 && w == wireVarint:
			ev.Step = int64(v)
		case f == 3 && w == wireBytes:
			ev.FileVersion = string(b)
		case f == 5 && w == wireBytes:
			if ev.Values, err = decodeSummary(ev.Values, b); err != nil {
				return ev, err
			}
		case f == 1 || f == 2 || f == 3 || f == 5:
			return ev, errProto // a known field with the wrong wire type
		}
	}
	return ev, nil
}

// decodeSummary appends the Values of a Summary to vs.
func decodeSummary(vs []Value, p []byte) ([]Value, error) {
	d := dec{p}
	for len(d.b) > 0 {
		f, w, _, b, err := d.next()
		if err != nil {
			return vs, err
		}
		if f != 1 {
			continue
		}
		if w != wireBytes {
			return vs, errProto
		}
		v, err := decodeValue(b)
		if err != nil {
			return vs, err
		}
		vs = append(vs, v)
	}
	return vs, nil
}

// decodeValue parses a Summary.Value.
func decodeValue(p []byte) (Value, error) {
	var val Value
	d := dec{p}
	for len(d.b) > 0 {
		f, w, v, b, err := d.next()
		if err != nil {
			return val, err
		}
		switch {
		case f == 1 && w == wireBytes:
			val.Tag = string(b)
		case f == 2 && w == wireFixed32:
			val.Kind, val.Scalar = KindScalar, math.Float32frombits(uint32(v))
		case f == 4 && w == wireBytes:
			val.Kind = KindImage
			if val.Image, err = decodeImage(b); err != nil {
				return val, err
			}
		case f == 5 && w == wireBytes:
			val.Kind = KindHistogram
			if val.Histogram, err = decodeHistogram(b); err != nil {
				return val, err
			}
		case f == 1 || f == 2 || f == 4 || f == 5:
			return val, errProto
		}
	}
	return val, nil
}

// decodeImage parses a Summary.Image.
func decodeImage(p []byte) (*Image, error) {
	im := new(Image)
	d := dec{p}
	for len(d.b) > 0 {
		f, w, v, b, err := d.next()
		if err != nil {
			return nil, err
		}
		switch {
		case f >= 1 && f <= 3 && w != wireVarint, f == 4 && w != wireBytes:
			return nil, errProto
		case f == 1:
			im.Height = int(int32(v))
		case f == 2:
			im.Width = int(int32(v))
		case f == 3:
			im.Colorspace = int(int32(v))
		case f == 4:
			im.Encoded = b
		}
	}
	return im, nil
}
