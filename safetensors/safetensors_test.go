package safetensors

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// sample returns tensors of every dtype, with values each dtype holds
// exactly, including a scalar and an empty tensor.
func sample() []Tensor {
	return []Tensor{
		{Name: "conv.weight", DType: F32, Shape: []int{2, 1, 1, 3}, Data: []float32{1, -2, 3.5, 1e-30, float32(math.Inf(1)), -0}},
		{Name: "bn.num_batches_tracked", DType: I64, Shape: []int{}, Data: []float32{12345}},
		{Name: "f64", DType: F64, Shape: []int{2}, Data: []float32{0.1, -7}},
		{Name: "f16", DType: F16, Shape: []int{3}, Data: []float32{0.5, -65504, 0x1p-24}},
		{Name: "bf16", DType: BF16, Shape: []int{2}, Data: []float32{1.5, -0x1p127}},
		{Name: "i32", DType: I32, Shape: []int{2}, Data: []float32{-2147483648, 7}},
		{Name: "i16", DType: I16, Shape: []int{1, 2}, Data: []float32{-32768, 32767}},
		{Name: "i8", DType: I8, Shape: []int{2}, Data: []float32{-128, 127}},
		{Name: "u8", DType: U8, Shape: []int{2}, Data: []float32{0, 255}},
		{Name: "mask", DType: BOOL, Shape: []int{3}, Data: []float32{1, 0, 1}},
		{Name: "empty", Shape: []int{0, 4}, Data: []float32{}},
	}
}

func TestRoundTrip(t *testing.T) {
	in := sample()
	md := map[string]string{"format": "pt", "epoch": "3"}
	var buf bytes.Buffer
	if err := Write(&buf, in, md); err != nil {
		t.Fatal(err)
	}
	out, gotMD, err := Read(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(gotMD, md) {
		t.Errorf("metadata = %v, want %v", gotMD, md)
	}
	byName := map[string]Tensor{}
	for i, o := range out {
		byName[o.Name] = o
		if i > 0 && out[i-1].Name >= o.Name {
			t.Errorf("tensors not sorted by name: %q before %q", out[i-1].Name, o.Name)
		}
	}
	if len(out) != len(in) {
		t.Fatalf("read %d tensors, wrote %d", len(out), len(in))
	}
	for _, w := range in {
		g, ok := byName[w.Name]
		if !ok {
			t.Errorf("tensor %q missing", w.Name)
			continue
		}
		if g.DType != dtypeOf(&w) || !reflect.DeepEqual(g.Shape, w.Shape) {
			t.Errorf("%s: got %s %v, want %s %v", w.Name, g.DType, g.Shape, dtypeOf(&w), w.Shape)
		}
		for i := range w.Data {
			want := w.Data[i]
			if w.DType == F64 {
				want = float32(float64(want))
			}
			if math.Float32bits(g.Data[i]) != math.Float32bits(want) {
				t.Errorf("%s[%d] = %v, want %v", w.Name, i, g.Data[i], want)
			}
		}
	}
}

// TestLayout checks the bytes against the format: header length, sorted
// keys, space padding to 8 bytes, data ordered by element size then name.
func TestLayout(t *testing.T) {
	var buf bytes.Buffer
	err := Write(&buf, []Tensor{
		{Name: "b", Shape: []int{1}, Data: []float32{2}},
		{Name: "a", Shape: []int{2}, Data: []float32{1, -1}},
		{Name: "n", DType: I64, Shape: []int{}, Data: []float32{5}},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	n := binary.LittleEndian.Uint64(b)
	header := string(b[8 : 8+n])
	want := `{"a":{"dtype":"F32","shape":[2],"data_offsets":[8,16]},` +
		`"b":{"dtype":"F32","shape":[1],"data_offsets":[16,20]},` +
		`"n":{"dtype":"I64","shape":[],"data_offsets":[0,8]}}`
	if n%8 != 0 || strings.TrimRight(header, " ") != want || len(header)-len(want) >= 8 {
		t.Errorf("header (%d bytes) = %q\nwant %q padded with spaces to a multiple of 8", n, header, want)
	}
	data := b[8+n:]
	wantData := []byte{5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80, 0x3f, 0, 0, 0x80, 0xbf, 0, 0, 0, 0x40}
	if !bytes.Equal(data, wantData) {
		t.Errorf("data = % x, want % x", data, wantData)
	}
}

func TestHalf(t *testing.T) {
	// Every half survives the trip to float32 and back.
	for h := 0; h < 1<<16; h++ {
		f := halfToFloat(uint16(h))
		g := floatToHalf(f)
		if f != f {
			if g&0x7c00 != 0x7c00 || g&0x3ff == 0 {
				t.Fatalf("NaN %#04x came back as %#04x", h, g)
			}
			continue
		}
		if g != uint16(h) {
			t.Fatalf("half %#04x -> %v -> %#04x", h, f, g)
		}
	}
	// Halfway between neighbours rounds to the even one; a hair either side
	// goes to the nearer one. Covers subnormals, the normal boundary and
	// the overflow to infinity past 65504.
	for h := uint16(0); h < 0x7c00; h++ {
		lo, hi := halfToFloat(h), halfToFloat(h+1)
		if h == 0x7bff {
			hi = 65536 // the next value were the exponent unbounded
		}
		mid := (lo + hi) / 2
		even := h
		if h&1 == 1 {
			even = h + 1
		}
		cases := []struct {
			f    float32
			want uint16
		}{
			{mid, even},
			{math.Nextafter32(mid, 0), h},
			{math.Nextafter32(mid, float32(math.Inf(1))), h + 1},
			{-mid, 0x8000 | even},
		}
		for _, c := range cases {
			if g := floatToHalf(c.f); g != c.want {
				t.Fatalf("floatToHalf(%v) = %#04x, want %#04x", c.f, g, c.want)
			}
		}
	}
	if g := floatToHalf(1e-30); g != 0 {
		t.Errorf("floatToHalf(1e-30) = %#04x, want 0", g)
	}
}

func TestBF16(t *testing.T) {
	tests := []struct {
		f    float32
		want uint16
	}{
		{1, 0x3f80},
		{-2, 0xc000},
		{math.Float32frombits(0x3f808000), 0x3f80}, // tie, even stays
		{math.Float32frombits(0x3f818000), 0x3f82}, // tie, odd rounds up
		{math.Float32frombits(0x3f808001), 0x3f81}, // above the tie
		{math.MaxFloat32, 0x7f80},                  // overflows to +Inf
		{float32(math.Inf(-1)), 0xff80},
	}
	for _, c := range tests {
		if g := floatToBF16(c.f); g != c.want {
			t.Errorf("floatToBF16(%v) = %#04x, want %#04x", c.f, g, c.want)
		}
	}
	if g := floatToBF16(float32(math.NaN())); g&0x7f80 != 0x7f80 || g&0x7f == 0 {
		t.Errorf("floatToBF16(NaN) = %#04x, not a NaN", g)
	}
}

func TestWriteErrors(t *testing.T) {
	tests := []struct {
		name string
		ts   []Tensor
		want string
	}{
		{"empty name", []Tensor{{Shape: []int{1}, Data: []float32{1}}}, "empty name"},
		{"reserved", []Tensor{{Name: "__metadata__", Shape: []int{}, Data: []float32{1}}}, "reserved"},
		{"duplicate", []Tensor{{Name: "a", Shape: []int{}, Data: []float32{1}}, {Name: "a", Shape: []int{}, Data: []float32{1}}}, "twice"},
		{"dtype", []Tensor{{Name: "a", DType: "F8", Shape: []int{}, Data: []float32{1}}}, "unknown dtype"},
		{"shape", []Tensor{{Name: "a", Shape: []int{2, 2}, Data: []float32{1}}}, "holds 4 values"},
		{"negative", []Tensor{{Name: "a", Shape: []int{-1, -1}, Data: []float32{1}}}, "invalid shape"},
		{"u8 range", []Tensor{{Name: "a", DType: U8, Shape: []int{2}, Data: []float32{1, 300}}}, "300 at index 1"},
		{"i64 NaN", []Tensor{{Name: "a", DType: I64, Shape: []int{1}, Data: []float32{float32(math.NaN())}}}, "NaN"},
		{"bool", []Tensor{{Name: "a", DType: BOOL, Shape: []int{1}, Data: []float32{0.5}}}, "BOOL"},
	}
	for _, c := range tests {
		err := Write(&bytes.Buffer{}, c.ts, nil)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "safetensors: ") {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
	}
}

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "model.safetensors")
	ts := sample()
	if err := WriteFile(path, ts, map[string]string{"v": "1"}); err != nil {
		t.Fatal(err)
	}
	got, md, err := ReadFile(path)
	if err != nil || len(got) != len(ts) || md["v"] != "1" {
		t.Fatalf("ReadFile: %d tensors, metadata %v, error %v", len(got), md, err)
	}
	// A failed write leaves the old file whole and no temporary file.
	bad := []Tensor{{Name: "x", DType: U8, Shape: []int{1}, Data: []float32{-1}}}
	if err := WriteFile(path, bad, nil); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("WriteFile of a bad tensor: error %v, want one naming %s", err, path)
	}
	if _, _, err := ReadFile(path); err != nil {
		t.Errorf("old file damaged by a failed write: %v", err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries after a failed write, want 1", len(entries))
	}
	if _, _, err := ReadFile(filepath.Join(dir, "absent.safetensors")); err == nil {
		t.Error("ReadFile of a missing file succeeded")
	}
	if err := WriteFile(filepath.Join(dir, "no", "such", "dir.safetensors"), ts, nil); err == nil {
		t.Error("WriteFile into a missing directory succeeded")
	}
}

// build assembles a file from a header string and data bytes.
func build(header string, data []byte) []byte {
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	b = append(b, header...)
	return append(b, data...)
}

func TestReadErrors(t *testing.T) {
	eight := make([]byte, 8)
	valid := `{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`
	tests := []struct {
		name string
		file []byte
		want string
	}{
		{"empty", nil, "too short"},
		{"short", []byte{1, 2, 3}, "too short"},
		{"absurd header", binary.LittleEndian.AppendUint64(nil, 1<<40), "limit"},
		{"huge header", binary.LittleEndian.AppendUint64(nil, math.MaxUint64), "limit"},
		{"header past end", binary.LittleEndian.AppendUint64(nil, 100), "exceeds the file size"},
		{"truncated data", build(valid, eight[:5]), "out of range for 5 bytes"},
		{"trailing data", build(valid, make([]byte, 12)), "cover 8 bytes"},
		{"invalid JSON", build(`{"a":`, nil), "invalid JSON"},
		{"not an object", build(`[1,2]`, nil), "not a JSON object"},
		{"null", build(`null`, nil), "not a JSON object"},
		{"bad UTF-8", build("{\"\xff\":1}", nil), "UTF-8"},
		{"entry not object", build(`{"a":5}`, nil), "invalid header entry"},
		{"no dtype", build(`{"a":{"shape":[2],"data_offsets":[0,8]}}`, eight), "no dtype"},
		{"no shape", build(`{"a":{"dtype":"F32","data_offsets":[0,8]}}`, eight), "no shape"},
		{"no offsets", build(`{"a":{"dtype":"F32","shape":[2]}}`, eight), "no data_offsets"},
		{"unknown dtype", build(`{"a":{"dtype":"F8_E4M3","shape":[8],"data_offsets":[0,8]}}`, eight), "unknown or unsupported dtype"},
		{"three offsets", build(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4,8]}}`, eight), "two numbers"},
		{"negative offset", build(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[-8,0]}}`, eight), "out of range"},
		{"reversed offsets", build(`{"a":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}}`, eight), "out of range"},
		{"offset past end", build(`{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}`, eight), "out of range"},
		{"fractional offset", build(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8.5]}}`, eight), "invalid header entry"},
		{"shape mismatch", build(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,8]}}`, eight), "needs 4 bytes"},
		{"shape beyond file", build(`{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}`, eight), "larger than the file"},
		{"negative dim", build(`{"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}`, eight), "invalid or larger"},
		{"overflowing shape", build(`{"a":{"dtype":"F32","shape":[4294967296,4294967296,2],"data_offsets":[0,8]}}`, eight), "invalid or larger"},
		{"overlap", build(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, eight), "overlap"},
		{"gap", build(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, eight), "gap"},
		{"metadata not strings", build(`{"__metadata__":{"epoch":3}}`, nil), "__metadata__"},
	}
	for _, c := range tests {
		_, _, err := Read(bytes.NewReader(c.file), int64(len(c.file)))
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "safetensors: ") {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
	}
	// A reader shorter than the size it claims.
	f := build(valid, eight)
	if _, _, err := Read(bytes.NewReader(f[:len(f)-3]), int64(len(f))); err == nil || !strings.Contains(err.Error(), "truncated") {
		t.Errorf("short reader: error %v, want truncated", err)
	}
	// ReadFile names the file.
	path := filepath.Join(t.TempDir(), "bad.safetensors")
	os.WriteFile(path, build(`{"a":`, nil), 0o644)
	if _, _, err := ReadFile(path); err == nil || !strings.Contains(err.Error(), path+": invalid JSON") {
		t.Errorf("ReadFile: error %v, want one naming %s", err, path)
	}
}

func TestReadEmpty(t *testing.T) {
	// A file with no tensors, only metadata, and one with nothing at all.
	for _, h := range []string{`{}`, `{"__metadata__":{"a":"b"}}     `} {
		f := build(h, nil)
		ts, _, err := Read(bytes.NewReader(f), int64(len(f)))
		if err != nil || len(ts) != 0 {
			t.Errorf("%s: %d tensors, error %v", h, len(ts), err)
		}
	}
}
