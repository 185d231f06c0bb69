package optim

import "math"

// Schedule gives the learning rate of each optimizer step. Step 0 is the
// first; LR(k) is the rate PyTorch's scheduler gives after k calls of its
// step(), when stepped once per batch.
type Schedule interface {
	LR(step int) float64
}

// Func adapts a function to a Schedule.
type Func func(step int) float64

// LR returns f(step).
func (f Func) LR(step int) float64 { return f(step) }

// Constant is a fixed learning rate.
type Constant float64

// LR returns c for every step.
func (c Constant) LR(int) float64 { return float64(c) }

// MultiStep multiplies the rate by Gamma at each milestone, as
// torch.optim.lr_scheduler.MultiStepLR: LR(step) = Base·Gamma^k, where k
// counts the milestones at or before step (a milestone given twice counts
// twice). The milestones need not be sorted.
type MultiStep struct {
	Base       float64
	Milestones []int
	Gamma      float64
}

// LR returns the rate for step.
func (s MultiStep) LR(step int) float64 {
	k := 0
	for _, m := range s.Milestones {
		if m <= step {
			k++
		}
	}
	return s.Base * math.Pow(s.Gamma, float64(k))
}

// Cosine anneals the rate from Base to Min over Total steps along half a
// cosine, the closed form of torch.optim.lr_scheduler.CosineAnnealingLR:
//
//	LR(step) = Min + (Base-Min)·(1 + cos(π·step/Total))/2
//
// Steps past Total stay at Min (PyTorch's formula would rise again); with
// Total <= 0 the rate stays at Base.
type Cosine struct {
	Base, Min float64
	Total     int
}

// LR returns the rate for step.
func (s Cosine) LR(step int) float64 {
	if s.Total <= 0 {
		return s.Base
	}
	t := float64(min(max(step, 0), s.Total))
	return s.Min + (s.Base-s.Min)*(1+math.Cos(math.Pi*t/float64(s.Total)))/2
}

// OneCycle is torch.optim.lr_scheduler.OneCycleLR with cosine annealing and
// two phases (anneal_strategy="cos", three_phase=False): the rate rises
// from Max/DivFactor to Max over the first PctStart of Total steps, then
// falls to Max/(DivFactor·FinalDivFactor) at step Total-1. Zero PctStart,
// DivFactor and FinalDivFactor mean PyTorch's defaults (0.3, 25, 1e4).
// Steps outside [0, Total-1] are clamped to it (PyTorch raises past
// Total). OneCycleLR's momentum cycling is not done here.
type OneCycle struct {
	Max                                 float64
	Total                               int
	PctStart, DivFactor, FinalDivFactor float64
}

// LR returns the rate for step.
func (s OneCycle) LR(step int) float64 {
	pct, div, final := s.PctStart, s.DivFactor, s.FinalDivFactor
	if pct == 0 {
		pct = 0.3
	}
	if div == 0 {
		div = 25
	}
	if final == 0 {
		final = 1e4
	}
	initial := s.Max / div
	minLR := initial / final
	t := float64(min(max(step, 0), s.Total-1))
	end1 := pct*float64(s.Total) - 1 // last step of the warm phase
	end2 := float64(s.Total - 1)
	if t <= end1 && end1 > 0 {
		return annealCos(initial, s.Max, t/end1)
	}
	if end2 <= end1 {
		return s.Max
	}
	return annealCos(s.Max, minLR, (t-end1)/(end2-end1))
}

// annealCos goes from start (pct 0) to end (pct 1) along half a cosine, as
// OneCycleLR's _annealing_cos.
func annealCos(start, end, pct float64) float64 {
	return end + (start-end)/2*(math.Cos(math.Pi*pct)+1)
}

// Warmup raises the rate linearly over the first Steps steps, from
// StartFactor times Then's first rate to that rate, then follows Then from
// its step 0. It equals PyTorch's SequentialLR of LinearLR(StartFactor,
// 1, Steps) and Then with milestone Steps:
//
//	LR(step) = Then.LR(0)·(StartFactor + (1-StartFactor)·step/Steps)   for step < Steps
//	LR(step) = Then.LR(step - Steps)                                    otherwise
//
// StartFactor 0 starts from a rate of 0 (LinearLR itself requires > 0).
type Warmup struct {
	Steps       int
	StartFactor float64
	Then        Schedule
}

// LR returns the rate for step.
func (s Warmup) LR(step int) float64 {
	if step < s.Steps {
		f := s.StartFactor + (1-s.StartFactor)*float64(max(step, 0))/float64(s.Steps)
		return s.Then.LR(0) * f
	}
	return s.Then.LR(step - max(s.Steps, 0))
}
