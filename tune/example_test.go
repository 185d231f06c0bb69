package tune_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/deepscope/deepscope/train"
	"github.com/deepscope/deepscope/tune"
)

func ExampleSpace_Grid() {
	sp, err := tune.ParseSpace([]byte(`{"lr": {"log": [1e-4, 1e-2]}, "batch": {"choice": [64, 128]}}`))
	if err != nil {
		log.Fatal(err)
	}
	for _, p := range sp.Grid(3) {
		fmt.Println(tune.ParamString(sp, p))
	}
	// Output:
	// batch=64 lr=0.0001
	// batch=64 lr=0.001
	// batch=64 lr=0.01
	// batch=128 lr=0.0001
	// batch=128 lr=0.001
	// batch=128 lr=0.01
}

// A 20-minute ASHA search of learning rate and dropout, two trials at a
// time, then the leaderboard.
func ExampleRun() {
	sp, err := tune.LoadSpace("space.json")
	if err != nil {
		log.Fatal(err)
	}
	base := train.Defaults()
	base.Data, base.Size, base.Crop = "pbc", 28, 0.556
	res, err := tune.Run(context.Background(), tune.Options{
		Strategy: "asha", Space: sp, Base: base, Budget: 20 * time.Minute,
		Parallel: 2, ASHA: tune.ASHA{MinEpochs: 2, Eta: 3}, Out: "search", Log: os.Stderr,
	})
	if err != nil {
		log.Fatal(err)
	}
	tune.WriteTable(os.Stdout, sp, "accuracy", res.Trials)
}
