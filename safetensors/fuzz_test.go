package safetensors

import (
	"bytes"
	"math"
	"testing"
)

// FuzzRead feeds Read arbitrary bytes. It must never panic; whatever it
// accepts must survive a write and a second read unchanged.
func FuzzRead(f *testing.F) {
	var buf bytes.Buffer
	if err := Write(&buf, sample(), map[string]string{"format": "pt"}); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Add(build(`{"a":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}`, []byte{0, 0x3c, 0, 0xfc}))
	f.Add(build(`{}`, nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		ts, md, err := Read(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return
		}
		// Integers read back exactly only below 2^24, and NaN payloads of
		// halves change; rewrite what can be rewritten.
		var again bytes.Buffer
		if err := Write(&again, ts, md); err != nil {
			return
		}
		ts2, md2, err := Read(bytes.NewReader(again.Bytes()), int64(again.Len()))
		if err != nil {
			t.Fatalf("rereading written data: %v", err)
		}
		if len(ts2) != len(ts) || len(md2) != len(md) {
			t.Fatalf("reread %d tensors %d metadata, want %d %d", len(ts2), len(md2), len(ts), len(md))
		}
		for i := range ts {
			if ts[i].Name != ts2[i].Name || ts[i].DType != ts2[i].DType || len(ts[i].Data) != len(ts2[i].Data) {
				t.Fatalf("tensor %d changed: %q %s -> %q %s", i, ts[i].Name, ts[i].DType, ts2[i].Name, ts2[i].DType)
			}
			for j, v := range ts[i].Data {
				w := ts2[i].Data[j]
				if v != w && !(math.IsNaN(float64(v)) && math.IsNaN(float64(w))) {
					t.Fatalf("%s[%d] = %v, reread %v", ts[i].Name, j, v, w)
				}
			}
		}
	})
}
