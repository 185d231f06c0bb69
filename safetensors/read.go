package safetensors

import (
	"cmp"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"unicode/utf8"
)

// Read reads the safetensors data held in the first size bytes of r and
// returns its tensors, sorted by name and converted to float32, and its
// metadata (nil when the file has none).
//
// Like the reference implementation, Read accepts a file only if its header
// is at most MaxHeader bytes of UTF-8 JSON and the tensors' byte ranges
// exactly tile the data that follows it: no overlaps, gaps or trailing
// bytes. It reads F64, F32, F16, BF16, I64, I32, I16, I8, U8 and BOOL;
// integers beyond 2^24 in magnitude lose precision as float32.
func Read(r io.ReaderAt, size int64) ([]Tensor, map[string]string, error) {
	ts, md, err := read(r, size)
	if err != nil {
		return nil, nil, fmt.Errorf("safetensors: %w", err)
	}
	return ts, md, nil
}

// ReadFile reads the named safetensors file as Read does. Its errors name
// the file.
func ReadFile(path string) ([]Tensor, map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("safetensors: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, nil, fmt.Errorf("safetensors: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, nil, fmt.Errorf("safetensors: %s: not a regular file", path)
	}
	ts, md, err := read(f, st.Size())
	if err != nil {
		return nil, nil, fmt.Errorf("safetensors: %s: %w", path, err)
	}
	return ts, md, nil
}

// errTruncated reports data that ends before its header says it should.
var errTruncated = errors.New("file is truncated")

// entry is a checked header entry with offsets relative to the data start.
type entry struct {
	name       string
	dtype      DType
	shape      []int
	begin, end int64
}

func read(r io.ReaderAt, size int64) ([]Tensor, map[string]string, error) {
	var lenbuf [8]byte
	if size < 8 {
		return nil, nil, fmt.Errorf("%d bytes is too short for a safetensors file", size)
	}
	if err := readFull(r, lenbuf[:], 0); err != nil {
		return nil, nil, err
	}
	n := binary.LittleEndian.Uint64(lenbuf[:])
	switch {
	case n > MaxHeader:
		return nil, nil, fmt.Errorf("header length %d exceeds the %d-byte limit (not a safetensors file?)", n, MaxHeader)
	case n > uint64(size-8):
		return nil, nil, fmt.Errorf("header length %d exceeds the file size %d (truncated file?)", n, size)
	}
	header := make([]byte, n)
	if err := readFull(r, header, 8); err != nil {
		return nil, nil, err
	}
	dataStart := 8 + int64(n)
	entries, md, err := parseHeader(header, size-dataStart)
	if err != nil {
		return nil, nil, err
	}
	maxBytes := int64(0)
	for _, e := range entries {
		maxBytes = max(maxBytes, e.end-e.begin)
	}
	buf := make([]byte, maxBytes)
	tensors := make([]Tensor, len(entries))
	for i, e := range entries {
		b := buf[:e.end-e.begin]
		if err := readFull(r, b, dataStart+e.begin); err != nil {
			return nil, nil, err
		}
		data := make([]float32, len(b)/e.dtype.Size())
		decode(e.dtype, b, data)
		tensors[i] = Tensor{Name: e.name, DType: e.dtype, Shape: e.shape, Data: data}
	}
	slices.SortFunc(tensors, func(a, b Tensor) int { return cmp.Compare(a.Name, b.Name) })
	return tensors, md, nil
}

// parseHeader decodes and checks the JSON header of a file whose data
// section holds dataLen bytes.
func parseHeader(header []byte, dataLen int64) ([]entry, map[string]string, error) {
	if !utf8.Valid(header) {
		return nil, nil, errors.New("header is not valid UTF-8")
	}
	if len(header) == 0 || header[0] != '{' {
		return nil, nil, errors.New("header is not a JSON object")
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(header, &raw); err != nil {
		return nil, nil, fmt.Errorf("invalid JSON header: %v", err)
	}
	var md map[string]string
	entries := make([]entry, 0, len(raw))
	for name, msg := range raw {
		if name == metadataKey {
			if err := json.Unmarshal(msg, &md); err != nil {
				return nil, nil, fmt.Errorf("%s must map strings to strings: %v", metadataKey, err)
			}
			continue
		}
		e, err := parseEntry(name, msg, dataLen)
		if err != nil {
			return nil, nil, fmt.Errorf("tensor %q: %v", name, err)
		}
		entries = append(entries, e)
	}
	// The byte ranges, in file order, must tile the data exactly.
	slices.SortFunc(entries, func(a, b entry) int {
		return cmp.Or(cmp.Compare(a.begin, b.begin), cmp.Compare(a.end, b.end), cmp.Compare(a.name, b.name))
	})
	var pos int64
	for i, e := range entries {
		if e.begin != pos {
			if e.begin < pos {
				return nil, nil, fmt.Errorf("tensor %q data_offsets [%d, %d] overlap tensor %q", e.name, e.begin, e.end, entries[i-1].name)
			}
			return nil, nil, fmt.Errorf("tensor %q data_offsets [%d, %d] leave a gap after byte %d", e.name, e.begin, e.end, pos)
		}
		pos = e.end
	}
	if pos != dataLen {
		return nil, nil, fmt.Errorf("tensors cover %d bytes of data but the file holds %d after the header", pos, dataLen)
	}
	return entries, md, nil
}

// parseEntry decodes and checks one tensor's header entry.
func parseEntry(name string, msg json.RawMessage, dataLen int64) (entry, error) {
	var h struct {
		DType       *DType   `json:"dtype"`
		Shape       *[]int64 `json:"shape"`
		DataOffsets *[]int64 `json:"data_offsets"`
	}
	if err := json.Unmarshal(msg, &h); err != nil {
		return entry{}, fmt.Errorf("invalid header entry: %v", err)
	}
	switch {
	case h.DType == nil:
		return entry{}, errors.New("header entry has no dtype")
	case h.Shape == nil:
		return entry{}, errors.New("header entry has no shape")
	case h.DataOffsets == nil:
		return entry{}, errors.New("header entry has no data_offsets")
	case h.DType.Size() == 0:
		return entry{}, fmt.Errorf("unknown or unsupported dtype %q", *h.DType)
	case len(*h.DataOffsets) != 2:
		return entry{}, fmt.Errorf("data_offsets %v must hold two numbers", *h.DataOffsets)
	}
	begin, end := (*h.DataOffsets)[0], (*h.DataOffsets)[1]
	if begin < 0 || end < begin || end > dataLen {
		return entry{}, fmt.Errorf("data_offsets [%d, %d] out of range for %d bytes of data", begin, end, dataLen)
	}
	size := int64(h.DType.Size())
	n, ok := numel(*h.Shape, dataLen/size)
	if !ok {
		return entry{}, fmt.Errorf("shape %v is invalid or larger than the file", *h.Shape)
	}
	if int64(n)*size != end-begin {
		return entry{}, fmt.Errorf("shape %v of %s needs %d bytes, data_offsets [%d, %d] give %d", *h.Shape, *h.DType, int64(n)*size, begin, end, end-begin)
	}
	shape := make([]int, len(*h.Shape))
	for i, d := range *h.Shape {
		shape[i] = int(d) // fits: checked by numel
	}
	return entry{name: name, dtype: *h.DType, shape: shape, begin: begin, end: end}, nil
}

// numel returns the number of elements of shape and true if every dimension
// is non-negative, fits an int, and the product is at most limit.
func numel[T int | int64](shape []T, limit int64) (int, bool) {
	n := int64(1)
	zero := false
	for _, d := range shape {
		if d < 0 || int64(d) > math.MaxInt {
			return 0, false
		}
		if d == 0 {
			zero = true
			continue
		}
		if n > limit/int64(d) {
			n = limit + 1 // over the limit, unless a zero dimension follows
			continue
		}
		n *= int64(d)
	}
	if zero {
		return 0, true
	}
	if n > limit {
		return 0, false
	}
	return int(n), true
}

// readFull reads len(b) bytes at off, treating a short read as truncation.
func readFull(r io.ReaderAt, b []byte, off int64) error {
	n, err := r.ReadAt(b, off)
	if n == len(b) {
		return nil // io.ReaderAt may report io.EOF with a full read
	}
	if err == nil || err == io.EOF {
		return errTruncated
	}
	return err
}
