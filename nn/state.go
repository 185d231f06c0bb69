package nn

import (
	"fmt"
	"slices"
	"strings"

	"github.com/deepscope/deepscope/safetensors"
	"github.com/deepscope/deepscope/tensor"
)

// NamedTensor is one entry of a state dict: a tensor with its full dotted
// name, as in PyTorch's state_dict ("layer1.0.bn1.running_mean").
type NamedTensor struct {
	Name  string
	Value *tensor.Tensor
	// Int marks values PyTorch keeps as int64, such as BatchNorm's
	// num_batches_tracked; files store them as I64.
	Int bool
}

// StateDict returns every parameter and buffer of m with its full name, in
// definition order, like PyTorch's state_dict. The values share memory with
// m: clone them to keep a snapshot.
func StateDict(m Module) []NamedTensor {
	var sd []NamedTensor
	Walk(m, func(name string, p *Param) {
		sd = append(sd, NamedTensor{Name: name, Value: p.Value, Int: p.Int})
	})
	return sd
}

// Mismatch is a state dict entry whose shape differs from the model's.
type Mismatch struct {
	Name      string
	Got, Want []int // shape in the state dict, shape in the model
}

// StateError lists what kept a state dict from loading, as PyTorch's
// load_state_dict does: keys the model has and the state dict lacks, keys
// the state dict has and the model lacks, and shape mismatches.
type StateError struct {
	File       string // the file read, if any
	Missing    []string
	Unexpected []string
	Duplicate  []string // keys that appear more than once in the state dict
	Mismatched []Mismatch
}

// Error lists the problems, at most ten names of each kind.
func (e *StateError) Error() string {
	var parts []string
	list := func(what string, names []string) {
		if len(names) == 0 {
			return
		}
		shown := names[:min(len(names), 10)]
		s := what + " " + strings.Join(shown, ", ")
		if len(names) > len(shown) {
			s += fmt.Sprintf(" and %d more", len(names)-len(shown))
		}
		parts = append(parts, s)
	}
	list("missing keys", e.Missing)
	list("unexpected keys", e.Unexpected)
	list("duplicate keys", e.Duplicate)
	for i, m := range e.Mismatched {
		if i == 10 {
			parts = append(parts, fmt.Sprintf("and %d more size mismatches", len(e.Mismatched)-i))
			break
		}
		parts = append(parts, fmt.Sprintf("size mismatch for %s: shape %v in the state dict, %v in the model", m.Name, m.Got, m.Want))
	}
	where := "nn: loading state dict: "
	if e.File != "" {
		where = "nn: " + e.File + ": "
	}
	return where + strings.Join(parts, "; ")
}

// LoadStateDict copies the values of sd into m's parameters and buffers,
// matching them by name. With strict, every key of m must be in sd and
// every key of sd in m; without, missing and unexpected keys are ignored
// (to fine-tune with a new head, say). A shape mismatch is always an error,
// as in PyTorch, except that a 1-element vector loads into a 0-dimensional
// tensor and the other way round. On error, the *StateError lists every
// problem and m is left unchanged.
func LoadStateDict(m Module, sd []NamedTensor, strict bool) error {
	return load(m, sd, strict, "")
}

func load(m Module, sd []NamedTensor, strict bool, file string) error {
	e := &StateError{File: file}
	src := make(map[string]*tensor.Tensor, len(sd))
	for _, t := range sd {
		if _, dup := src[t.Name]; dup {
			e.Duplicate = append(e.Duplicate, t.Name)
		}
		src[t.Name] = t.Value
	}
	type pair struct{ dst, src *tensor.Tensor }
	var copies []pair
	seen := make(map[string]bool, len(src))
	Walk(m, func(name string, p *Param) {
		if seen[name] {
			panic("nn: two parameters named " + name)
		}
		seen[name] = true
		v, ok := src[name]
		switch {
		case !ok:
			if strict {
				e.Missing = append(e.Missing, name)
			}
		case !shapesMatch(v.Shape, p.Value.Shape):
			e.Mismatched = append(e.Mismatched, Mismatch{Name: name, Got: v.Shape, Want: p.Value.Shape})
		default:
			copies = append(copies, pair{p.Value, v})
		}
	})
	if strict {
		for _, t := range sd {
			if !seen[t.Name] && !slices.Contains(e.Unexpected, t.Name) {
				e.Unexpected = append(e.Unexpected, t.Name)
			}
		}
	}
	if len(e.Missing)+len(e.Unexpected)+len(e.Duplicate)+len(e.Mismatched) > 0 {
		return e
	}
	for _, c := range copies {
		c.dst.CopyFrom(c.src)
	}
	return nil
}

// shapesMatch reports whether a tensor of shape got loads into one of shape
// want: equal shapes, or a 0-dimensional tensor and a 1-element vector
// (PyTorch accepts the latter for old checkpoints).
func shapesMatch(got, want []int) bool {
	if slices.Equal(got, want) {
		return true
	}
	one := func(s []int) bool { return len(s) == 1 && s[0] == 1 }
	return (len(got) == 0 && one(want)) || (one(got) && len(want) == 0)
}

// SaveFile writes m's state dict to path in the safetensors format, which
// PyTorch loads with safetensors.torch.load_file and load_state_dict.
// Metadata may be nil; "format": "pt" is added unless present, as the
// Hugging Face tools expect. The file is replaced atomically.
func SaveFile(m Module, path string, metadata map[string]string) error {
	return WriteStateFile(path, StateDict(m), metadata)
}

// LoadFile loads a safetensors state dict from path into m, strictly (see
// LoadStateDict). Errors name the file.
func LoadFile(m Module, path string) error {
	sd, _, err := ReadStateFile(path)
	if err != nil {
		return err
	}
	return load(m, sd, true, path)
}

// WriteStateFile writes named tensors (a state dict, an optimizer's state,
// or both together) to path in the safetensors format: Int entries as I64,
// the rest as F32. Metadata may be nil; "format": "pt" is added unless
// present. The file is replaced atomically.
func WriteStateFile(path string, sd []NamedTensor, metadata map[string]string) error {
	md := map[string]string{"format": "pt"}
	for k, v := range metadata {
		md[k] = v
	}
	ts := make([]safetensors.Tensor, len(sd))
	for i, t := range sd {
		dt := safetensors.F32
		if t.Int {
			dt = safetensors.I64
		}
		v := t.Value.Contiguous()
		ts[i] = safetensors.Tensor{Name: t.Name, DType: dt, Shape: v.Shape, Data: v.Values()}
	}
	return safetensors.WriteFile(path, ts, md)
}

// ReadStateFile reads the named tensors and metadata of a safetensors file,
// in name order. Integer entries come back with Int set.
func ReadStateFile(path string) ([]NamedTensor, map[string]string, error) {
	ts, md, err := safetensors.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	sd := make([]NamedTensor, len(ts))
	for i, t := range ts {
		isInt := t.DType != safetensors.F64 && t.DType != safetensors.F32 && t.DType != safetensors.F16 && t.DType != safetensors.BF16
		sd[i] = NamedTensor{Name: t.Name, Value: tensor.FromSlice(t.Data, t.Shape...), Int: isInt}
	}
	return sd, md, nil
}
