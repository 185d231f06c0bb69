package fl

import (
	"bytes"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/deepscope/deepscope/nn"
	"github.com/deepscope/deepscope/safetensors"
	"github.com/deepscope/deepscope/tensor"
)

// Entry is one tensor of a Layout: its state-dict name, its shape and where
// its values sit in the flat vector.
type Entry struct {
	Name   string
	Shape  []int
	Offset int
	Len    int
}

// Layout lists the floating-point entries of a model's state dict (its
// parameters and float buffers such as BatchNorm's running statistics, in
// definition order) and their place in one flat vector, the form in which
// updates are aggregated. Integer buffers (BatchNorm's num_batches_tracked)
// are left out: they carry no learned value and the server keeps its own.
type Layout struct {
	Entries []Entry
	Total   int // length of the flat vector
	index   map[string]int
}

// NewLayout returns the layout of m's floating-point state.
func NewLayout(m nn.Module) *Layout {
	l := &Layout{index: map[string]int{}}
	for _, t := range nn.StateDict(m) {
		if t.Int {
			continue
		}
		n := t.Value.Len()
		l.index[t.Name] = len(l.Entries)
		l.Entries = append(l.Entries, Entry{Name: t.Name, Shape: slices.Clone(t.Value.Shape), Offset: l.Total, Len: n})
		l.Total += n
	}
	return l
}

// Flatten copies m's floating-point state into dst (grown to Total) and
// returns it.
func (l *Layout) Flatten(m nn.Module, dst []float32) []float32 {
	dst = slices.Grow(dst[:0], l.Total)[:l.Total]
	i := 0
	for _, t := range nn.StateDict(m) {
		if t.Int {
			continue
		}
		e := l.Entries[i]
		if t.Name != e.Name || t.Value.Len() != e.Len {
			panic("fl: Flatten of a model that does not match the layout at " + t.Name)
		}
		copy(dst[e.Offset:e.Offset+e.Len], t.Value.Contiguous().Values())
		i++
	}
	return dst
}

// Load copies a flat vector into m's floating-point state.
func (l *Layout) Load(m nn.Module, v []float32) {
	if len(v) != l.Total {
		panic(fmt.Sprintf("fl: Load of %d values into a layout of %d", len(v), l.Total))
	}
	i := 0
	for _, t := range nn.StateDict(m) {
		if t.Int {
			continue
		}
		e := l.Entries[i]
		if t.Name != e.Name || !t.Value.IsContiguous() {
			panic("fl: Load into a model that does not match the layout at " + t.Name)
		}
		copy(t.Value.Values(), v[e.Offset:e.Offset+e.Len])
		i++
	}
}

// Apply adds delta to the global vector w in place. Variances
// (entries named *running_var) are kept at zero or above, which noise or a
// robust aggregate could otherwise push below.
func (l *Layout) Apply(w, delta []float32) {
	if len(w) != l.Total || len(delta) != l.Total {
		panic("fl: Apply with vectors that do not match the layout")
	}
	tensor.Axpy(1, delta, w)
	for _, e := range l.Entries {
		if strings.HasSuffix(e.Name, "running_var") {
			for i := e.Offset; i < e.Offset+e.Len; i++ {
				w[i] = max(w[i], 0)
			}
		}
	}
}

// EncodeVector writes a flat vector as safetensors bytes, one F32 tensor per
// entry, with the given metadata.
func (l *Layout) EncodeVector(v []float32, meta map[string]string) ([]byte, error) {
	if len(v) != l.Total {
		panic("fl: EncodeVector of a vector that does not match the layout")
	}
	ts := make([]safetensors.Tensor, len(l.Entries))
	for i, e := range l.Entries {
		ts[i] = safetensors.Tensor{Name: e.Name, DType: safetensors.F32, Shape: e.Shape, Data: v[e.Offset : e.Offset+e.Len]}
	}
	var buf bytes.Buffer
	if err := safetensors.Write(&buf, ts, meta); err != nil {
		return nil, fmt.Errorf("fl: %w", err)
	}
	return buf.Bytes(), nil
}

// DecodeVector reads an update written by EncodeVector and checks it
// against the layout: the same names, each once, the same shapes, float
// values, and no NaN or Inf. The error names the first problem found.
func (l *Layout) DecodeVector(b []byte) ([]float32, map[string]string, error) {
	ts, meta, err := safetensors.Read(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return nil, nil, fmt.Errorf("fl: %w", err)
	}
	v := make([]float32, l.Total)
	seen := make([]bool, len(l.Entries))
	for _, t := range ts {
		i, ok := l.index[t.Name]
		if !ok {
			return nil, nil, fmt.Errorf("fl: unexpected tensor %q", t.Name)
		}
		e := l.Entries[i]
		if seen[i] {
			return nil, nil, fmt.Errorf("fl: tensor %s appears twice", e.Name)
		}
		seen[i] = true
		if !slices.Equal(t.Shape, e.Shape) {
			return nil, nil, fmt.Errorf("fl: tensor %s has shape %v, want %v", e.Name, t.Shape, e.Shape)
		}
		if t.DType != safetensors.F32 && t.DType != safetensors.F16 && t.DType != safetensors.BF16 && t.DType != safetensors.F64 {
			return nil, nil, fmt.Errorf("fl: tensor %s has dtype %s, want F32", e.Name, t.DType)
		}
		if j := nonFinite(t.Data); j >= 0 {
			return nil, nil, fmt.Errorf("fl: tensor %s holds %v at index %d", e.Name, t.Data[j], j)
		}
		copy(v[e.Offset:], t.Data)
	}
	for i, ok := range seen {
		if !ok {
			return nil, nil, fmt.Errorf("fl: tensor %s is missing", l.Entries[i].Name)
		}
	}
	return v, meta, nil
}

// nonFinite returns the index of the first NaN or Inf in x, or -1.
func nonFinite(x []float32) int {
	for i, v := range x {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return i
		}
	}
	return -1
}

// encodeState writes a full state dict (integer buffers included) as
// safetensors bytes: the global weights clients download.
func encodeState(sd []nn.NamedTensor, meta map[string]string) ([]byte, error) {
	ts := make([]safetensors.Tensor, len(sd))
	for i, t := range sd {
		dt := safetensors.F32
		if t.Int {
			dt = safetensors.I64
		}
		v := t.Value.Contiguous()
		ts[i] = safetensors.Tensor{Name: t.Name, DType: dt, Shape: v.Shape, Data: v.Values()}
	}
	var buf bytes.Buffer
	if err := safetensors.Write(&buf, ts, meta); err != nil {
		return nil, fmt.Errorf("fl: %w", err)
	}
	return buf.Bytes(), nil
}

// loadState reads safetensors bytes written by encodeState into m
// (strictly: every name must match) and returns the metadata.
func loadState(m nn.Module, b []byte) (map[string]string, error) {
	ts, meta, err := safetensors.Read(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return nil, fmt.Errorf("fl: global weights: %w", err)
	}
	sd := make([]nn.NamedTensor, len(ts))
	for i, t := range ts {
		sd[i] = nn.NamedTensor{Name: t.Name, Value: tensor.FromSlice(t.Data, t.Shape...), Int: t.DType == safetensors.I64}
	}
	if err := nn.LoadStateDict(m, sd, true); err != nil {
		return nil, fmt.Errorf("fl: global weights: %w", err)
	}
	return meta, nil
}
