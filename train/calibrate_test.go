package train

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/deepscope/deepscope/tensor"
)

// sampleLogits draws n images of k classes whose labels follow
// softmax(z) exactly (a calibrated model's logits z), and returns the
// logits scaled by s: a model over-confident by the factor s.
func sampleLogits(rng *rand.Rand, n, k int, s float64) ([]float32, []int) {
	logits := make([]float32, n*k)
	labels := make([]int, n)
	for i := range n {
		z := make([]float64, k)
		var den float64
		for j := range z {
			z[j] = 2.5 * rng.NormFloat64()
			den += math.Exp(z[j])
		}
		u, y := rng.Float64()*den, 0
		for y < k-1 && u > math.Exp(z[y]) {
			u -= math.Exp(z[y])
			y++
		}
		labels[i] = y
		for j := range z {
			logits[i*k+j] = float32(s * z[j])
		}
	}
	return logits, labels
}

// The fitted temperature undoes a known miscalibration: logits scaled by
// s need T = s, in either direction.
func TestTemperatureRecoversScale(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, s := range []float64{0.5, 1, 2.5} {
		logits, labels := sampleLogits(rng, 20000, 5, s)
		nll := func(t float64) float64 { return softmaxNLL(logits, labels, 1, 5, t) }
		got, at := minimiseTemperature(nll)
		if math.Abs(got/s-1) > 0.05 {
			t.Errorf("logits scaled by %g: temperature %.3f, want about %g", s, got, s)
		}
		if at > nll(1)+1e-12 || at > nll(got*1.1) || at > nll(got/1.1) {
			t.Errorf("scale %g: %.5f at T=%.3f is not the minimum (T=1: %.5f)", s, at, got, nll(1))
		}
	}
}

// With several views the probabilities are averaged before the log, as
// Probabilities does; identical views give the one-view answer.
func TestSoftmaxNLLViews(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	logits, labels := sampleLogits(rng, 500, 4, 2)
	two := make([]float32, 0, 2*len(logits))
	for i := range labels {
		row := logits[i*4 : (i+1)*4]
		two = append(append(two, row...), row...)
	}
	for _, temp := range []float64{0.7, 1, 2} {
		a, b := softmaxNLL(logits, labels, 1, 4, temp), softmaxNLL(two, labels, 2, 4, temp)
		if math.Abs(a-b) > 1e-9 {
			t.Errorf("T=%g: one view %.9f, the same view twice %.9f", temp, a, b)
		}
	}
}

// Multi-label: per-label sigmoids of logits scaled by s need T = s.
func TestMultiLabelTemperature(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	const n, k, s = 5000, 3, 3.0
	logits := make([]float32, n*k)
	targets := make([]bool, n*k)
	for i := range logits {
		z := 2 * rng.NormFloat64()
		targets[i] = rng.Float64() < 1/(1+math.Exp(-z))
		logits[i] = float32(s * z)
	}
	got, _ := minimiseTemperature(func(t float64) float64 { return multiLabelNLL(logits, targets, 1, k, t) })
	if math.Abs(got/s-1) > 0.05 {
		t.Errorf("temperature %.3f, want about %g", got, s)
	}
}

// fixedLogits is a model whose logits are given, whatever its input.
type fixedLogits struct{ z *tensor.Tensor }

func (f fixedLogits) Forward(*tensor.Tensor) *tensor.Tensor  { return f.z }
func (f fixedLogits) Backward(*tensor.Tensor) *tensor.Tensor { return nil }

// Probabilities divides the logits by the run's temperature before the
// softmax and leaves the model's logits untouched.
func TestProbabilitiesApplyTemperature(t *testing.T) {
	z := tensor.FromSlice([]float32{2, 0, -1, 0.5, 0.5, 3}, 2, 3)
	x := tensor.New(2, 4, 4, 3)
	for _, temp := range []float64{0, 1, 2.5} {
		p := Probabilities(fixedLogits{z}, x, &RunInfo{Temperature: temp}, false, nil)
		tt := max(temp, 1) // 0 means none
		for i := range 2 {
			var den float64
			for j := range 3 {
				den += math.Exp(float64(z.Data[i*3+j]) / tt)
			}
			for j := range 3 {
				want := math.Exp(float64(z.Data[i*3+j])/tt) / den
				if got := float64(p.Data[i*3+j]); math.Abs(got-want) > 1e-6 {
					t.Errorf("T=%g: p[%d][%d] = %.6f, want %.6f", temp, i, j, got, want)
				}
			}
		}
	}
	if z.Data[0] != 2 || z.Data[5] != 3 {
		t.Errorf("the model's logits were changed: %v", z.Data)
	}
}

// A finished run is calibrated: run.json holds the temperature, which
// lowers the validation log-loss.
func TestRunCalibrates(t *testing.T) {
	out := t.TempDir()
	sum, err := Run(context.Background(), tinyConfig(tinyData(t)), Options{Out: out})
	if err != nil {
		t.Fatal(err)
	}
	c := sum.Calibration
	if c == nil || !(c.Temperature >= minTemperature && c.Temperature <= maxTemperature) || c.Images == 0 {
		t.Fatalf("calibration %+v", c)
	}
	if c.NLLAfter > c.NLLBefore {
		t.Errorf("log-loss rose from %.4f to %.4f", c.NLLBefore, c.NLLAfter)
	}
	info, err := ReadRunInfo(out)
	if err != nil || info.Temperature != c.Temperature {
		t.Fatalf("run.json temperature %v, want %v (%v)", info.Temperature, c.Temperature, err)
	}
}
