package fl

import (
	"bytes"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/deepscope/deepscope/nn"
	"github.com/deepscope/deepscope/safetensors"
)

// toyNet is a small network with a parameter, a BatchNorm (float and
// integer buffers) and a head: every kind of state-dict entry.
func toyNet(seed uint64) nn.Module {
	rng := rand.New(rand.NewPCG(seed, 1))
	return nn.NewSequential(
		nn.NewConv2d(rng, nn.ConvConfig{In: 3, Out: 4, Kernel: 3, Padding: 1}),
		nn.NewBatchNorm2d(4),
		nn.NewGlobalAvgPool(),
		nn.NewLinear(rng, 4, 3, true),
	)
}

func TestLayout(t *testing.T) {
	m := toyNet(1)
	l := NewLayout(m)
	var names []string
	for _, e := range l.Entries {
		names = append(names, e.Name)
	}
	if slices.Contains(names, "1.num_batches_tracked") || !slices.Contains(names, "1.running_var") {
		t.Errorf("layout entries %v: want float buffers and no integer ones", names)
	}
	want := 0
	for _, p := range nn.StateDict(m) {
		if !p.Int {
			want += p.Value.Len()
		}
	}
	if l.Total != want {
		t.Errorf("Total %d, want %d", l.Total, want)
	}
	v := l.Flatten(m, nil)
	m2 := toyNet(2)
	l.Load(m2, v)
	if !slices.Equal(l.Flatten(m2, nil), v) {
		t.Error("Load then Flatten does not give the vector back")
	}
	// Apply keeps variances non-negative.
	delta := make([]float32, l.Total)
	for i := range delta {
		delta[i] = -5
	}
	l.Apply(v, delta)
	for _, e := range l.Entries {
		if e.Name == "1.running_var" && slices.Min(v[e.Offset:e.Offset+e.Len]) < 0 {
			t.Error("Apply left a negative running variance")
		}
	}
}

func TestDecodeVectorRejectsMalformed(t *testing.T) {
	m := toyNet(1)
	l := NewLayout(m)
	good := l.Flatten(m, nil)
	encode := func(ts []safetensors.Tensor) []byte {
		var buf bytes.Buffer
		if err := safetensors.Write(&buf, ts, nil); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	tensors := func() []safetensors.Tensor {
		var ts []safetensors.Tensor
		for _, e := range l.Entries {
			ts = append(ts, safetensors.Tensor{Name: e.Name, Shape: e.Shape, Data: slices.Clone(good[e.Offset : e.Offset+e.Len])})
		}
		return ts
	}
	b, err := l.EncodeVector(good, map[string]string{"samples": "3"})
	if err != nil {
		t.Fatal(err)
	}
	v, meta, err := l.DecodeVector(b)
	if err != nil || !slices.Equal(v, good) || meta["samples"] != "3" {
		t.Fatalf("round trip: err %v, meta %v", err, meta)
	}
	tests := []struct {
		name string
		edit func([]safetensors.Tensor) []safetensors.Tensor
		want string
	}{
		{"renamed", func(ts []safetensors.Tensor) []safetensors.Tensor { ts[0].Name = "evil.weight"; return ts }, `unexpected tensor "evil.weight"`},
		{"missing", func(ts []safetensors.Tensor) []safetensors.Tensor { return ts[1:] }, "is missing"},
		{"reshaped", func(ts []safetensors.Tensor) []safetensors.Tensor {
			ts[0].Shape = []int{ts[0].Shape[0], ts[0].Shape[1] * ts[0].Shape[2] * ts[0].Shape[3]}
			return ts
		}, "has shape"},
		{"NaN", func(ts []safetensors.Tensor) []safetensors.Tensor { ts[2].Data[0] = float32(math.NaN()); return ts }, "holds NaN"},
		{"Inf", func(ts []safetensors.Tensor) []safetensors.Tensor { ts[1].Data[1] = float32(math.Inf(-1)); return ts }, "holds -Inf"},
		{"integer", func(ts []safetensors.Tensor) []safetensors.Tensor {
			ts[3].DType = safetensors.I64
			clear(ts[3].Data)
			return ts
		}, "dtype I64"},
	}
	for _, tc := range tests {
		_, _, err := l.DecodeVector(encode(tc.edit(tensors())))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
	if _, _, err := l.DecodeVector([]byte("not safetensors")); err == nil {
		t.Error("garbage decoded without error")
	}
}

func TestStateRoundTrip(t *testing.T) {
	a, b := toyNet(1), toyNet(2)
	sd := nn.StateDict(a)
	sd[len(sd)-1].Value.Data[0] = 7 // distinguish a from b
	buf, err := encodeState(nn.StateDict(a), map[string]string{"round": "4"})
	if err != nil {
		t.Fatal(err)
	}
	meta, err := loadState(b, buf)
	if err != nil || meta["round"] != "4" {
		t.Fatalf("loadState: %v, meta %v", err, meta)
	}
	la := NewLayout(a)
	if !slices.Equal(la.Flatten(a, nil), la.Flatten(b, nil)) {
		t.Error("weights differ after the round trip")
	}
	if _, err := loadState(toyNetWide(), buf); err == nil || !strings.Contains(err.Error(), "size mismatch") {
		t.Errorf("loading into another architecture: %v", err)
	}
}

func toyNetWide() nn.Module {
	rng := rand.New(rand.NewPCG(3, 1))
	return nn.NewSequential(
		nn.NewConv2d(rng, nn.ConvConfig{In: 3, Out: 5, Kernel: 3, Padding: 1}),
		nn.NewBatchNorm2d(5),
		nn.NewGlobalAvgPool(),
		nn.NewLinear(rng, 5, 3, true),
	)
}
