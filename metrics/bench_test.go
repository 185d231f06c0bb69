package metrics

import "testing"

// BenchmarkEvaluate: a BloodMNIST-sized test set (3,419 images, 8 classes)
// with 1000 bootstrap resamples.
func BenchmarkEvaluate(b *testing.B) {
	labels, probs := synth(3419, 8, 3, 1)
	for b.Loop() {
		if _, err := Evaluate(labels, probs, nil, Options{Seed: 1}); err != nil {
			b.Fatal(err)
		}
	}
}
