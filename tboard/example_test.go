package tboard_test

import (
	"fmt"
	"log"
	"os"

	"github.com/deepscope/deepscope/tboard"
)

func Example() {
	dir, err := os.MkdirTemp("", "runs")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	w, err := tboard.NewWriter(dir) // then: tensorboard --logdir <dir>
	if err != nil {
		log.Fatal(err)
	}
	for step := int64(1); step <= 3; step++ {
		w.Scalar("loss/train", step, 1/float64(step))
	}
	w.Histogram("fc.weight", 3, []float32{-0.2, 0.1, 0.1, 0.3})
	if err := w.Close(); err != nil {
		log.Fatal(err)
	}

	evs, err := tboard.ReadEvents(w.Path())
	if err != nil {
		log.Fatal(err)
	}
	for _, ev := range evs {
		for _, v := range ev.Values {
			switch v.Kind {
			case tboard.KindScalar:
				fmt.Printf("step %d %s %.3f\n", ev.Step, v.Tag, v.Scalar)
			case tboard.KindHistogram:
				fmt.Printf("step %d %s: %g values in %d buckets\n", ev.Step, v.Tag, v.Histogram.Num, len(v.Histogram.Bucket))
			}
		}
	}
	// Output:
	// step 1 loss/train 1.000
	// step 2 loss/train 0.500
	// step 3 loss/train 0.333
	// step 3 fc.weight: 4 values in 5 buckets
}
