package safetensors

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
)

// headerEntry is one tensor's description in the JSON header.
type headerEntry struct {
	DType       DType    `json:"dtype"`
	Shape       []int    `json:"shape"`
	DataOffsets [2]int64 `json:"data_offsets"`
}

// Write writes tensors and metadata (which may be nil) to w in the
// safetensors format, converting each tensor's float32 Data to its DType.
//
// As the reference implementation does, the header's keys are sorted, the
// header is padded with spaces so that the data starts at a multiple of 8
// bytes, and the data is laid out by decreasing element size, then name, so
// every tensor is aligned to its element size.
//
// Write fails, before writing anything, on an empty, reserved or repeated
// name, an unknown dtype or a shape that does not match len(Data), and
// partway through on a value the dtype cannot hold (NaN or 300 for U8; the
// integer types round to the nearest integer).
func Write(w io.Writer, tensors []Tensor, metadata map[string]string) error {
	if err := write(w, tensors, metadata); err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	return nil
}

// WriteFile writes tensors and metadata to the named file as Write does.
// It writes to a temporary file in the same directory, syncs it to disk and
// renames it over path, so a crash leaves either the old file or the new
// one, never a half-written file.
func WriteFile(path string, tensors []Tensor, metadata map[string]string) (err error) {
	defer func() {
		if err != nil {
			err = fmt.Errorf("safetensors: %s: %w", path, err)
		}
	}()
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	bw := bufio.NewWriterSize(f, 1<<20)
	if err := write(bw, tensors, metadata); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	// Make the rename itself durable; not every system can sync a directory.
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

func write(w io.Writer, tensors []Tensor, metadata map[string]string) error {
	order, err := check(tensors)
	if err != nil {
		return err
	}
	header := make(map[string]any, len(tensors)+1)
	if len(metadata) > 0 {
		header[metadataKey] = metadata
	}
	var off int64
	for _, i := range order {
		t := &tensors[i]
		n := int64(len(t.Data) * dtypeOf(t).Size())
		shape := t.Shape
		if shape == nil {
			shape = []int{} // a scalar's shape is [], not null
		}
		header[t.Name] = headerEntry{DType: dtypeOf(t), Shape: shape, DataOffsets: [2]int64{off, off + n}}
		off += n
	}
	var js bytes.Buffer
	enc := json.NewEncoder(&js)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(header); err != nil {
		return err
	}
	js.Truncate(js.Len() - 1) // Encode's newline
	for js.Len()%8 != 0 {
		js.WriteByte(' ')
	}
	var lenbuf [8]byte
	binary.LittleEndian.PutUint64(lenbuf[:], uint64(js.Len()))
	if _, err := w.Write(lenbuf[:]); err != nil {
		return err
	}
	if _, err := w.Write(js.Bytes()); err != nil {
		return err
	}
	// Encode in chunks so a large tensor needs no second full-size copy.
	const chunk = 1 << 14
	buf := make([]byte, chunk*8)
	for _, i := range order {
		t := &tensors[i]
		d := dtypeOf(t)
		for lo := 0; lo < len(t.Data); lo += chunk {
			src := t.Data[lo:min(lo+chunk, len(t.Data))]
			b := buf[:len(src)*d.Size()]
			if err := encode(d, src, b); err != nil {
				return fmt.Errorf("tensor %q: %v", t.Name, err)
			}
			if _, err := w.Write(b); err != nil {
				return err
			}
		}
	}
	return nil
}

// check validates the tensors to write and returns the order of their data:
// by decreasing element size, then by name.
func check(tensors []Tensor) ([]int, error) {
	seen := make(map[string]bool, len(tensors))
	for i := range tensors {
		t := &tensors[i]
		switch {
		case t.Name == "":
			return nil, fmt.Errorf("tensor %d has an empty name", i)
		case t.Name == metadataKey:
			return nil, fmt.Errorf("tensor name %q is reserved for metadata", t.Name)
		case seen[t.Name]:
			return nil, fmt.Errorf("tensor name %q appears twice", t.Name)
		case dtypeOf(t).Size() == 0:
			return nil, fmt.Errorf("tensor %q: unknown dtype %q", t.Name, t.DType)
		}
		seen[t.Name] = true
		n, ok := numel(t.Shape, math.MaxInt)
		if !ok {
			return nil, fmt.Errorf("tensor %q: invalid shape %v", t.Name, t.Shape)
		}
		if n != len(t.Data) {
			return nil, fmt.Errorf("tensor %q: shape %v holds %d values, Data has %d", t.Name, t.Shape, n, len(t.Data))
		}
	}
	order := make([]int, len(tensors))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int {
		ta, tb := &tensors[a], &tensors[b]
		if c := cmp.Compare(dtypeOf(tb).Size(), dtypeOf(ta).Size()); c != 0 {
			return c
		}
		return cmp.Compare(ta.Name, tb.Name)
	})
	return order, nil
}

func dtypeOf(t *Tensor) DType {
	if t.DType == "" {
		return F32
	}
	return t.DType
}
