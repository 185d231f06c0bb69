package progress_test

import (
	"os"

	"github.com/deepscope/deepscope/progress"
)

func Example() {
	const batches, batchSize = 3, 64
	p := progress.New(os.Stdout, batches, "epoch 1/10")
	loss := 1.0
	for b := 1; b <= batches; b++ {
		loss /= 2 // ... train on one batch ...
		p.Update(b, progress.Float("loss", loss), progress.Float("images/s", 812))
	}
	p.Done()
	// Output:
	// epoch 1/10  3/3  100%  loss 0.125  images/s 812  took 0s
}
