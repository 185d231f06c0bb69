package segment_test

import (
	"fmt"

	"github.com/deepscope/deepscope/segment"
)

// The Data Science Bowl score of a prediction that merges two objects
// into one: the merged object overlaps the first true object with IoU 2/3,
// a match at the thresholds 0.50 to 0.65 only.
func ExampleScore() {
	truth := &segment.Labels{W: 4, H: 1, Pix: []int32{1, 1, 2, 2}}
	pred := &segment.Labels{W: 4, H: 1, Pix: []int32{1, 1, 1, 0}}
	s := segment.Score(truth, pred)
	fmt.Printf("score %.2f, AP50 %.2f, Dice %.3f, count error %d\n", s.Score, s.AP50, s.Dice, s.CountError)
	// Output: score 0.20, AP50 0.50, Dice 0.857, count error -1
}

// Segment works with any source of probabilities; here a threshold on the
// image stands in for a network: bright is interior, middling boundary.
func ExampleSegment() {
	const w, h = 12, 6
	plane := make([]float32, w*h)
	for y := 1; y < 5; y++ {
		for x := 1; x < 11; x++ {
			plane[y*w+x] = 0.5 // two 4x4 objects side by side...
			if (x >= 2 && x <= 4 || x >= 7 && x <= 9) && y >= 2 && y <= 3 {
				plane[y*w+x] = 1 // ...with bright interiors
			}
		}
	}
	probs := func(p []float32, w, h int) []float32 {
		out := make([]float32, 0, w*h*segment.NumClasses)
		for _, v := range p {
			switch {
			case v > 0.75:
				out = append(out, 0, 1, 0)
			case v > 0.25:
				out = append(out, 0, 0, 1)
			default:
				out = append(out, 1, 0, 0)
			}
		}
		return out
	}
	l := segment.Segment(plane, w, h, probs, segment.TileConfig{}, segment.InstanceConfig{MinArea: 1})
	for y := 0; y < h; y++ {
		fmt.Println(l.Pix[y*w : (y+1)*w])
	}
	// Output:
	// [0 0 0 0 0 0 0 0 0 0 0 0]
	// [0 1 1 1 1 1 2 2 2 2 2 0]
	// [0 1 1 1 1 1 2 2 2 2 2 0]
	// [0 1 1 1 1 1 2 2 2 2 2 0]
	// [0 1 1 1 1 1 2 2 2 2 2 0]
	// [0 0 0 0 0 0 0 0 0 0 0 0]
}
