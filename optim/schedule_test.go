package optim

import (
	"fmt"
	"math"
	"testing"
)

// TestSchedules checks each schedule at chosen steps against the learning
// rates torch.optim.lr_scheduler gives there (torch 1.13, stepped once per
// optimizer step), which equal the closed forms it documents.
func TestSchedules(t *testing.T) {
	type point struct {
		step int
		lr   float64
	}
	tests := []struct {
		name   string
		s      Schedule
		points []point
	}{
		{"constant", Constant(0.3), []point{{0, 0.3}, {1000, 0.3}}},
		{"func", Func(func(s int) float64 { return float64(s) / 2 }), []point{{3, 1.5}}},
		// MultiStepLR(milestones=[30, 80], gamma=0.1) from 0.1.
		{"multistep", MultiStep{Base: 0.1, Milestones: []int{80, 30}, Gamma: 0.1},
			[]point{{0, 0.1}, {29, 0.1}, {30, 0.01}, {79, 0.01}, {80, 0.001}, {99, 0.001}}},
		{"multistep repeated", MultiStep{Base: 1, Milestones: []int{5, 5}, Gamma: 0.5}, []point{{4, 1}, {5, 0.25}}},
		// CosineAnnealingLR(T_max=100, eta_min=0.001) from 0.1.
		{"cosine", Cosine{Base: 0.1, Min: 0.001, Total: 100},
			[]point{{0, 0.1}, {25, 0.08550178566873408}, {50, 0.0505}, {99, 0.0010244252618962857}, {100, 0.001}, {150, 0.001}}},
		{"cosine no total", Cosine{Base: 0.1, Total: 0}, []point{{7, 0.1}}},
		// OneCycleLR(max_lr=1, total_steps=100) with its defaults.
		{"onecycle", OneCycle{Max: 1, Total: 100},
			[]point{{0, 0.04}, {10, 0.29516394846410077}, {28, 0.9971862194340926}, {29, 1}, {30, 0.9994965352845243}, {64, 0.500002}, {99, 4e-6}, {200, 4e-6}}},
		// OneCycleLR(max_lr=0.5, total_steps=40, pct_start=0.25, div_factor=10, final_div_factor=100).
		{"onecycle custom", OneCycle{Max: 0.5, Total: 40, PctStart: 0.25, DivFactor: 10, FinalDivFactor: 100},
			[]point{{0, 0.05}, {5, 0.3140708399750593}, {9, 0.5}, {10, 0.49863184336822625}, {20, 0.3518324766081811}, {39, 0.0005}}},
		// SequentialLR([LinearLR(start_factor=0.1, total_iters=5),
		// CosineAnnealingLR(T_max=20)], milestones=[5]) from 0.2.
		{"warmup", Warmup{Steps: 5, StartFactor: 0.1, Then: Cosine{Base: 0.2, Total: 20}},
			[]point{{0, 0.02}, {1, 0.056}, {4, 0.164}, {5, 0.2}, {6, 0.1987688340595138}, {15, 0.1}, {25, 0}}},
		{"warmup from zero", Warmup{Steps: 4, Then: Constant(1)}, []point{{0, 0}, {2, 0.5}, {4, 1}}},
	}
	for _, c := range tests {
		for _, p := range c.points {
			if got := c.s.LR(p.step); math.Abs(got-p.lr) > 1e-12*math.Max(1, p.lr) {
				t.Errorf("%s: LR(%d) = %.17g, want %.17g", c.name, p.step, got, p.lr)
			}
		}
	}
}

func ExampleWarmup() {
	// Five warm-up steps from a tenth of the rate, then cosine decay.
	s := Warmup{Steps: 5, StartFactor: 0.1, Then: Cosine{Base: 0.1, Total: 95}}
	for _, step := range []int{0, 4, 5, 52, 100} {
		fmt.Printf("step %3d: lr %.4f\n", step, s.LR(step))
	}
	// Output:
	// step   0: lr 0.0100
	// step   4: lr 0.0820
	// step   5: lr 0.1000
	// step  52: lr 0.0508
	// step 100: lr 0.0000
}
