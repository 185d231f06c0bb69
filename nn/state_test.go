package nn

import (
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/deepscope/deepscope/safetensors"
	"github.com/deepscope/deepscope/tensor"
)

// stateToy is a layer with a weight, a no-decay bias and two buffers, one of
// them an integer, like a BatchNorm; Forward and Backward pass through.
type stateToy struct{ ps []*Param }

func newStateToy(in, out int, fill float32) *stateToy {
	bias := NewParam("bias", tensor.Full(fill, out))
	bias.NoDecay = true
	count := NewBuffer("num_batches_tracked", tensor.Full(fill))
	count.Int = true
	return &stateToy{ps: []*Param{
		NewParam("weight", tensor.Full(fill, out, in)),
		bias,
		NewBuffer("running_mean", tensor.Full(fill, out)),
		count,
	}}
}

func (l *stateToy) Forward(x *tensor.Tensor) *tensor.Tensor   { return x }
func (l *stateToy) Backward(dy *tensor.Tensor) *tensor.Tensor { return dy }
func (l *stateToy) Params() []*Param                          { return l.ps }

// stateNet nests toys two levels deep: "body.0", "body.1" and "head".
type stateNet struct {
	body *Sequential
	head *stateToy
}

func newStateNet(fill float32, headOut int) *stateNet {
	return &stateNet{
		body: NewSequential(newStateToy(3, 2, fill), newStateToy(2, 2, fill+1)),
		head: newStateToy(2, headOut, fill+2),
	}
}

func (n *stateNet) Forward(x *tensor.Tensor) *tensor.Tensor { return n.head.Forward(n.body.Forward(x)) }
func (n *stateNet) Backward(dy *tensor.Tensor) *tensor.Tensor {
	return n.body.Backward(n.head.Backward(dy))
}
func (n *stateNet) Children() []Child {
	return []Child{{Name: "body", Module: n.body}, {Name: "head", Module: n.head}}
}

func stateNames(sd []NamedTensor) []string {
	var s []string
	for _, t := range sd {
		s = append(s, t.Name)
	}
	return s
}

func TestStateDict(t *testing.T) {
	m := newStateNet(1, 2)
	sd := StateDict(m)
	want := []string{
		"body.0.weight", "body.0.bias", "body.0.running_mean", "body.0.num_batches_tracked",
		"body.1.weight", "body.1.bias", "body.1.running_mean", "body.1.num_batches_tracked",
		"head.weight", "head.bias", "head.running_mean", "head.num_batches_tracked",
	}
	if got := stateNames(sd); !reflect.DeepEqual(got, want) {
		t.Fatalf("names = %v\nwant %v", got, want)
	}
	for _, e := range sd {
		if e.Int != strings.HasSuffix(e.Name, "num_batches_tracked") {
			t.Errorf("%s: Int = %v", e.Name, e.Int)
		}
	}
	// The entries share memory with the model.
	sd[0].Value.Data[0] = 42
	if m.body.Layers[0].(*stateToy).ps[0].Value.Data[0] != 42 {
		t.Error("StateDict copied the values")
	}
}

func TestSaveLoadFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.safetensors")
	src := newStateNet(1, 2)
	src.head.ps[0].Value.Set(-3.25, 1, 0)
	src.head.ps[3].Value.Data[0] = 7
	if err := SaveFile(src, path, map[string]string{"epoch": "4"}); err != nil {
		t.Fatal(err)
	}
	// The file holds PyTorch's dtypes and the metadata.
	ts, md, err := safetensors.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if md["epoch"] != "4" || md["format"] != "pt" {
		t.Errorf("metadata = %v", md)
	}
	for _, ft := range ts {
		want := safetensors.F32
		if strings.HasSuffix(ft.Name, "num_batches_tracked") {
			want = safetensors.I64
		}
		if ft.DType != want {
			t.Errorf("%s stored as %s, want %s", ft.Name, ft.DType, want)
		}
	}
	dst := newStateNet(10, 2)
	if err := LoadFile(dst, path); err != nil {
		t.Fatal(err)
	}
	a, b := StateDict(src), StateDict(dst)
	for i := range a {
		if !reflect.DeepEqual(a[i].Value.Shape, b[i].Value.Shape) || !reflect.DeepEqual(a[i].Value.Values(), b[i].Value.Values()) {
			t.Errorf("%s: loaded %v, saved %v", a[i].Name, b[i].Value, a[i].Value)
		}
	}
	if dst.head.ps[0].Value.At(1, 0) != -3.25 || dst.head.ps[3].Value.Data[0] != 7 {
		t.Error("values not copied into the model's tensors")
	}
}

func TestLoadStateDictErrors(t *testing.T) {
	good := StateDict(newStateNet(5, 2))
	drop := func(name string) []NamedTensor {
		var sd []NamedTensor
		for _, e := range good {
			if e.Name != name {
				sd = append(sd, e)
			}
		}
		return sd
	}
	extra := append(drop(""), NamedTensor{Name: "fc.weight", Value: tensor.New(1)})
	wrongHead := StateDict(newStateNet(5, 3)) // head has 3 outputs
	tests := []struct {
		name   string
		sd     []NamedTensor
		strict bool
		want   []string // substrings of the error; nil for success
	}{
		{"exact", good, true, nil},
		{"missing strict", drop("body.1.bias"), true, []string{"missing keys body.1.bias"}},
		{"missing lax", drop("body.1.bias"), false, nil},
		{"unexpected strict", extra, true, []string{"unexpected keys fc.weight"}},
		{"unexpected lax", extra, false, nil},
		{"mismatch strict", wrongHead, true, []string{"size mismatch for head.weight: shape [3 2] in the state dict, [2 2] in the model", "head.bias"}},
		{"mismatch lax", wrongHead, false, []string{"size mismatch for head.weight"}},
		{"duplicate", append(drop(""), good[0]), true, []string{"duplicate keys body.0.weight"}},
	}
	for _, c := range tests {
		m := newStateNet(0, 2)
		err := LoadStateDict(m, c.sd, c.strict)
		if c.want == nil {
			if err != nil {
				t.Errorf("%s: %v", c.name, err)
			} else if v := m.body.Layers[0].(*stateToy).ps[0].Value.Data[0]; v != 5 {
				t.Errorf("%s: weight = %v after load, want 5", c.name, v)
			}
			continue
		}
		var se *StateError
		if !errors.As(err, &se) {
			t.Errorf("%s: error %v, want a *StateError", c.name, err)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q lacks %q", c.name, err, w)
			}
		}
		// A failed load changes nothing.
		for _, e := range StateDict(m) {
			for _, v := range e.Value.Values() {
				if v != 0 && v != 1 && v != 2 {
					t.Fatalf("%s: %s changed by a failed load: %v", c.name, e.Name, e.Value)
				}
			}
		}
	}
}

func TestLoadFileErrorsNameFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "small.safetensors")
	if err := SaveFile(newStateNet(1, 3), path, nil); err != nil {
		t.Fatal(err)
	}
	err := LoadFile(newStateNet(1, 2), path)
	if err == nil || !strings.HasPrefix(err.Error(), "nn: "+path+": size mismatch for head.weight") {
		t.Errorf("error %v, want a size mismatch naming %s", err, path)
	}
	missing := filepath.Join(dir, "absent.safetensors")
	if err := LoadFile(newStateNet(1, 2), missing); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("error %v, want one naming %s", err, missing)
	}
}

func TestScalarShapes(t *testing.T) {
	// PyTorch stores num_batches_tracked as a 0-dimensional tensor; a
	// 1-element vector loads into it, and the other way round.
	m := newStateNet(0, 2)
	sd := StateDict(newStateNet(1, 2))
	for i := range sd {
		if sd[i].Int {
			sd[i].Value = tensor.Full(9, 1)
		}
	}
	if err := LoadStateDict(m, sd, true); err != nil {
		t.Fatal(err)
	}
	if got := m.head.ps[3].Value.Data[0]; got != 9 {
		t.Errorf("num_batches_tracked = %v, want 9", got)
	}
	sd[3].Value = tensor.New(2)
	if err := LoadStateDict(m, sd, true); err == nil {
		t.Error("a 2-element vector loaded into a scalar")
	}
}
