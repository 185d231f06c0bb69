package safetensors_test

import (
	"bytes"
	"fmt"

	"github.com/deepscope/deepscope/safetensors"
)

func Example() {
	tensors := []safetensors.Tensor{
		{Name: "fc.weight", Shape: []int{2, 3}, Data: []float32{1, 2, 3, 4, 5, 6}},
		{Name: "bn.num_batches_tracked", DType: safetensors.I64, Shape: []int{}, Data: []float32{100}},
	}
	var buf bytes.Buffer
	if err := safetensors.Write(&buf, tensors, map[string]string{"format": "pt"}); err != nil {
		fmt.Println(err)
		return
	}
	got, md, err := safetensors.Read(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, t := range got {
		fmt.Println(t.Name, t.DType, t.Shape, t.Data)
	}
	fmt.Println(md)
	// Output:
	// bn.num_batches_tracked I64 [] [100]
	// fc.weight F32 [2 3] [1 2 3 4 5 6]
	// map[format:pt]
}
