package tboard

import (
	"bytes"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// fakeClock returns a clock that starts at t0 and advances by step per call.
func fakeClock(t0 time.Time, step time.Duration) func() time.Time {
	t := t0
	return func() time.Time { t = t.Add(step); return t }
}

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func TestEncoding(t *testing.T) {
	tests := []struct {
		name string
		fill func(*enc)
		want []byte
	}{
		{"varint 1", func(e *enc) { e.varint(2, 1) }, []byte{0x10, 0x01}},
		{"varint 300", func(e *enc) { e.varint(2, 300) }, []byte{0x10, 0xac, 0x02}},
		{"varint -1", func(e *enc) { e.varint(2, uint64(1<<64-1)) }, []byte{0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}},
		{"float 1", func(e *enc) { e.float(2, 1) }, []byte{0x15, 0x00, 0x00, 0x80, 0x3f}},
		{"double 1", func(e *enc) { e.double(1, 1) }, []byte{0x09, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f}},
		{"string", func(e *enc) { e.string(1, "ab") }, []byte{0x0a, 0x02, 'a', 'b'}},
		{"packed", func(e *enc) { e.packedDoubles(6, []float64{2}) }, []byte{0x32, 0x08, 0, 0, 0, 0, 0, 0, 0, 0x40}},
		{"nested", func(e *enc) { e.message(5, func(s *enc) { s.varint(1, 3) }) }, []byte{0x2a, 0x02, 0x08, 0x03}},
		{"field 16", func(e *enc) { e.varint(16, 0) }, []byte{0x80, 0x01, 0x00}},
	}
	for _, tc := range tests {
		var e enc
		tc.fill(&e)
		if !bytes.Equal(e.b, tc.want) {
			t.Errorf("%s: got % x, want % x", tc.name, e.b, tc.want)
		}
	}
}

func TestMaskedCRC(t *testing.T) {
	// The standard CRC-32C check value, so the table is Castagnoli's.
	if got := crc32.Checksum([]byte("123456789"), castagnoli); got != 0xe3069283 {
		t.Fatalf("CRC-32C check value %#x, want 0xe3069283", got)
	}
	for _, s := range []string{"", "a", "brain.Event:2"} {
		c := crc32.Checksum([]byte(s), castagnoli)
		if got, want := maskedCRC([]byte(s)), ((c>>15)|(c<<17))+0xa282ead8; got != want {
			t.Errorf("maskedCRC(%q) = %#x, want %#x", s, got, want)
		}
	}
}

// writeSample writes one file holding scalars, three images and a
// histogram, and returns its path and the values written.
func writeSample(t *testing.T) (string, []float32) {
	t.Helper()
	w, err := newWriter(t.TempDir(), fakeClock(t0, time.Second))
	if err != nil {
		t.Fatal(err)
	}
	for step := int64(0); step < 3; step++ {
		if err := w.Scalar("loss/train", step, 1/float64(step+1)); err != nil {
			t.Fatal(err)
		}
		if err := w.Scalar("lr", step, 0.1); err != nil {
			t.Fatal(err)
		}
	}
	for _, im := range testImages() {
		if err := w.Image(im.tag, 7, im.img); err != nil {
			t.Fatal(err)
		}
	}
	hist := []float32{-2, -0.5, 0, 0, 1e-6, 0.25, 0.25, 3, float32(math.NaN()), float32(math.Inf(1))}
	if err := w.Histogram("weights", 9, hist); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return w.Path(), hist
}

type testImage struct {
	tag        string
	img        image.Image
	colorspace int
}

func testImages() []testImage {
	rgb := image.NewRGBA(image.Rect(0, 0, 3, 2))
	gray := image.NewGray(image.Rect(0, 0, 4, 1))
	nrgba := image.NewNRGBA(image.Rect(0, 0, 2, 2))
	for i := range rgb.Pix {
		rgb.Pix[i] = uint8(40 * i)
		if i%4 == 3 {
			rgb.Pix[i] = 255
		}
	}
	for i := range gray.Pix {
		gray.Pix[i] = uint8(60 * i)
	}
	nrgba.Set(1, 1, color.NRGBA{10, 20, 30, 128})
	return []testImage{{"rgb", rgb, 3}, {"gray", gray, 1}, {"alpha", nrgba, 4}}
}

func TestRoundTrip(t *testing.T) {
	path, hist := writeSample(t)
	if !strings.HasPrefix(filepath.Base(path), "events.out.tfevents.1767323046.") {
		t.Errorf("file name %s, want events.out.tfevents.<unix time>.<host>", filepath.Base(path))
	}
	evs, err := ReadEvents(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := 1 + 6 + 3 + 1; len(evs) != want {
		t.Fatalf("%d events, want %d", len(evs), want)
	}
	if evs[0].FileVersion != "brain.Event:2" || len(evs[0].Values) != 0 {
		t.Errorf("first event %+v, want only file_version brain.Event:2", evs[0])
	}
	for i := 1; i < len(evs); i++ {
		if evs[i].WallTime <= evs[i-1].WallTime {
			t.Errorf("event %d: wall time %v not after %v", i, evs[i].WallTime, evs[i-1].WallTime)
		}
		if len(evs[i].Values) != 1 {
			t.Fatalf("event %d: %d values, want 1", i, len(evs[i].Values))
		}
	}

	// Scalars, in the order written.
	for i, ev := range evs[1:7] {
		v := ev.Values[0]
		step := int64(i / 2)
		tag, want := "loss/train", float32(1/float64(step+1))
		if i%2 == 1 {
			tag, want = "lr", 0.1
		}
		if ev.Step != step || v.Tag != tag || v.Kind != KindScalar || v.Scalar != want {
			t.Errorf("scalar %d: step %d %+v, want step %d tag %s value %v", i, ev.Step, v, step, tag, want)
		}
	}

	// Images: the PNG decodes to the pixels written.
	for i, ti := range testImages() {
		ev := evs[7+i]
		v := ev.Values[0]
		if ev.Step != 7 || v.Tag != ti.tag || v.Kind != KindImage {
			t.Fatalf("image %s: step %d value %+v", ti.tag, ev.Step, v)
		}
		b := ti.img.Bounds()
		if v.Image.Width != b.Dx() || v.Image.Height != b.Dy() || v.Image.Colorspace != ti.colorspace {
			t.Errorf("image %s: %dx%d colorspace %d, want %dx%d colorspace %d", ti.tag,
				v.Image.Width, v.Image.Height, v.Image.Colorspace, b.Dx(), b.Dy(), ti.colorspace)
		}
		got, err := png.Decode(bytes.NewReader(v.Image.Encoded))
		if err != nil {
			t.Fatalf("image %s: %v", ti.tag, err)
		}
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				if g, w := color.NRGBA64Model.Convert(got.At(x, y)), color.NRGBA64Model.Convert(ti.img.At(x, y)); g != w {
					t.Errorf("image %s (%d,%d): %v, want %v", ti.tag, x, y, g, w)
				}
			}
		}
	}

	// Histogram.
	ev := evs[10]
	v := ev.Values[0]
	if ev.Step != 9 || v.Tag != "weights" || v.Kind != KindHistogram {
		t.Fatalf("histogram: step %d value %+v", ev.Step, v)
	}
	checkHistogram(t, v.Histogram, hist)
}

// checkHistogram asserts that h summarises the finite values of vs and that
// each value lies in a bucket with a count.
func checkHistogram(t *testing.T, h *Histogram, vs []float32) {
	t.Helper()
	var finite []float64
	for _, v := range vs {
		if f := float64(v); !math.IsNaN(f) && !math.IsInf(f, 0) {
			finite = append(finite, f)
		}
	}
	var sum, sq float64
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range finite {
		sum, sq, lo, hi = sum+v, sq+v*v, min(lo, v), max(hi, v)
	}
	if h.Num != float64(len(finite)) || h.Min != lo || h.Max != hi || h.Sum != sum || h.SumSquares != sq {
		t.Errorf("histogram stats %+v, want num %d min %v max %v sum %v sumsq %v", h, len(finite), lo, hi, sum, sq)
	}
	if len(h.Bucket) != len(h.BucketLimit) || len(h.Bucket) == 0 {
		t.Fatalf("%d buckets, %d limits", len(h.Bucket), len(h.BucketLimit))
	}
	var total float64
	for i, c := range h.Bucket {
		total += c
		if i > 0 && c == 0 && h.Bucket[i-1] == 0 {
			t.Errorf("empty buckets %d and %d not merged", i-1, i)
		}
		if i > 0 && h.BucketLimit[i] <= h.BucketLimit[i-1] {
			t.Errorf("bucket limits not increasing at %d: %v, %v", i, h.BucketLimit[i-1], h.BucketLimit[i])
		}
	}
	if total != h.Num {
		t.Errorf("bucket counts sum to %v, want %v", total, h.Num)
	}
	if h.Bucket[0] == 0 || h.Bucket[len(h.Bucket)-1] == 0 {
		t.Errorf("empty first or last bucket: %v", h.Bucket)
	}
	// Re-bin the values with the written edges: the counts must match.
	counts := make([]float64, len(h.Bucket))
	for _, v := range finite {
		i := 0
		for i < len(h.BucketLimit)-1 && v >= h.BucketLimit[i] {
			i++
		}
		if v >= h.BucketLimit[i] {
			t.Errorf("value %v above the last edge %v", v, h.BucketLimit[i])
		}
		counts[i]++
	}
	for i := range counts {
		if counts[i] != h.Bucket[i] {
			t.Errorf("bucket %d (< %v): count %v, want %v", i, h.BucketLimit[i], h.Bucket[i], counts[i])
		}
	}
}

func TestHistogramEdges(t *testing.T) {
	lim := defaultLimits()
	if len(lim)%2 != 1 || lim[len(lim)/2] != 0 || lim[len(lim)-1] != math.MaxFloat64 {
		t.Fatalf("limits: %d edges, middle %v, last %v", len(lim), lim[len(lim)/2], lim[len(lim)-1])
	}
	for i := range lim {
		if lim[i] != -lim[len(lim)-1-i] {
			t.Fatalf("limits not symmetric at %d: %v vs %v", i, lim[i], lim[len(lim)-1-i])
		}
	}
	// bucketOf agrees with a binary search at and around every edge.
	for _, e := range lim[1 : len(lim)-1] {
		for _, v := range []float64{e, math.Nextafter(e, math.Inf(-1)), math.Nextafter(e, math.Inf(1)), e * 1.05} {
			if got, want := bucketOf(lim, v), sort.Search(len(lim), func(i int) bool { return lim[i] > v }); got != want {
				t.Fatalf("bucketOf(%v) = %d, want %d", v, got, want)
			}
		}
	}
	tests := [][]float32{
		{0},
		{1, 1, 1},
		{-1e30, 1e30},
		{math.MaxFloat32, -math.MaxFloat32, math.SmallestNonzeroFloat32},
		{0.001, 0.0011, 0.00121, -0.5, 7},
	}
	for _, vs := range tests {
		h, ok := newHistogram(vs)
		if !ok {
			t.Fatalf("%v: no histogram", vs)
		}
		checkHistogram(t, &h, vs)
	}
	for _, vs := range [][]float32{nil, {float32(math.NaN())}} {
		if _, ok := newHistogram(vs); ok {
			t.Errorf("%v: histogram of no finite values", vs)
		}
	}
}

func TestCorruptionDetected(t *testing.T) {
	path, _ := writeSample(t)
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	starts := recordStarts(t, good)
	for off := range good {
		b := bytes.Clone(good)
		b[off] ^= 0x01
		evs, err := readEvents(bytes.NewReader(b), "bad")
		rec := recordAt(starts, off)
		if err == nil {
			t.Fatalf("byte %d (record %d) flipped: no error", off, rec)
		}
		if len(evs) != rec {
			t.Fatalf("byte %d flipped: %d events before the error, want %d", off, len(evs), rec)
		}
		if !strings.Contains(err.Error(), "CRC mismatch") {
			t.Fatalf("byte %d flipped: error %q does not name a CRC", off, err)
		}
	}
}

func TestTruncation(t *testing.T) {
	path, _ := writeSample(t)
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	starts := recordStarts(t, good)
	for n := range len(good) {
		evs, err := readEvents(bytes.NewReader(good[:n]), "cut")
		whole := recordAt(starts, n)
		atBoundary := n == starts[whole]
		if len(evs) != whole || (err == nil) != atBoundary {
			t.Fatalf("cut at %d: %d events, err %v; want %d events, error %v", n, len(evs), err, whole, !atBoundary)
		}
		if err != nil && !errors.Is(err, errTruncated) {
			t.Fatalf("cut at %d: error %v, want a truncated record", n, err)
		}
	}
}

// recordStarts returns the byte offset of each record in b, and len(b).
func recordStarts(t *testing.T, b []byte) []int {
	t.Helper()
	var starts []int
	r := bytes.NewReader(b)
	for {
		starts = append(starts, len(b)-r.Len())
		if _, err := readRecord(r); err != nil {
			if err.Error() != "EOF" {
				t.Fatal(err)
			}
			return starts
		}
	}
}

// recordAt returns the index of the record holding byte off.
func recordAt(starts []int, off int) int {
	i := 0
	for i+1 < len(starts) && starts[i+1] <= off {
		i++
	}
	return i
}

func TestWriterErrors(t *testing.T) {
	dir := t.TempDir()
	clock := func() time.Time { return t0 }
	w1, err := newWriter(dir, clock)
	if err != nil {
		t.Fatal(err)
	}
	w2, err := newWriter(dir, clock)
	if err != nil {
		t.Fatal(err)
	}
	if w1.Path() == w2.Path() || w2.Path() <= w1.Path() {
		t.Errorf("second writer in the same second: %s after %s, want a later distinct name", w2.Path(), w1.Path())
	}
	if err := w1.Scalar("", 0, 1); err == nil {
		t.Error("empty tag: no error")
	}
	if err := w1.Image("img", 0, image.NewGray(image.Rect(0, 0, 0, 5))); err == nil {
		t.Error("empty image: no error")
	}
	if err := w1.Histogram("h", 0, []float32{float32(math.Inf(-1))}); err == nil {
		t.Error("histogram of no finite values: no error")
	}
	if err := w1.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w1.Scalar("x", 1, 1); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("write after Close: %v, want a closed error", err)
	}
	if err := w1.Close(); err == nil {
		t.Error("second Close: no error")
	}
	w2.Close()
	// Neither the failed calls nor the late write reached the file.
	evs, err := ReadEvents(w1.Path())
	if err != nil || len(evs) != 1 {
		t.Errorf("file after failed writes: %d events, %v; want only the version record", len(evs), err)
	}
	if _, err := NewWriter(filepath.Join(w1.Path(), "sub")); err == nil {
		t.Error("directory under a file: no error")
	}
}

func TestReadMissing(t *testing.T) {
	_, err := ReadEvents(filepath.Join(t.TempDir(), "none"))
	if err == nil || !strings.HasPrefix(err.Error(), "tboard: ") {
		t.Errorf("missing file: %v, want a tboard error", err)
	}
}

func FuzzDecodeEvent(f *testing.F) {
	var e enc
	e.double(1, 1)
	e.varint(2, 5)
	e.message(5, func(s *enc) {
		s.message(1, func(v *enc) {
			v.string(1, "t")
			v.message(5, func(h *enc) { h.packedDoubles(6, []float64{1}); h.packedDoubles(7, []float64{2}) })
		})
	})
	f.Add(e.b)
	f.Add([]byte{0x2a, 0x80})
	f.Fuzz(func(t *testing.T, b []byte) {
		decodeEvent(b) // must not panic
	})
}
