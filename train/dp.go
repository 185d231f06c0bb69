package train

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/deepscope/deepscope/data"
	"github.com/deepscope/deepscope/models"
	"github.com/deepscope/deepscope/nn"
	"github.com/deepscope/deepscope/privacy"
	"github.com/deepscope/deepscope/tensor"
)

// Training with differential privacy (Config.DP): DP-SGD as Abadi et al.
// (2016) describe it. Each step draws its batch by Poisson sampling (every
// training image in with probability q = Batch/N), clips each image's
// gradient to MaxGradNorm with package privacy's two-pass ghost clipping,
// adds Gaussian noise of standard deviation NoiseMultiplier·MaxGradNorm to
// the sum and divides by the expected batch size. The noise is chosen so
// that the planned steps spend exactly TargetEpsilon at Delta, or is given
// (NoiseMultiplier), and the loop stops before a step that would overrun
// the target. privacy.json in the run directory is the ledger.
//
// What else a DP run changes, because it would leak training images past
// the guarantee: batch norm becomes group norm (batch statistics mix
// images); the channel statistics for normalisation come from the
// validation images; no training images are written to TensorBoard; and
// the batches and noise come from a cryptographic stream that is never
// stored, so a resumed DP run is not bit-identical to an uninterrupted one.

// dpDefaults fills the DP fields whose zero value is never meaningful.
func (c Config) dpDefaults() Config {
	if !c.DP {
		return c
	}
	if c.Delta == 0 {
		c.Delta = 1e-5
	}
	if c.MaxGradNorm == 0 {
		c.MaxGradNorm = 1
	}
	return c
}

// validateDP reports the first DP field out of range.
func (c Config) validateDP() error {
	if !c.DP {
		if c.TargetEpsilon != 0 || c.NoiseMultiplier != 0 || c.Delta != 0 || c.MaxGradNorm != 0 {
			return fmt.Errorf("train: target_epsilon, noise_multiplier, delta and max_grad_norm are for DP-SGD: add dp (--dp)")
		}
		return nil
	}
	switch {
	case !(c.Delta > 0 && c.Delta < 1):
		return fmt.Errorf("train: delta %g: want a value in (0, 1), far below 1/(training images)", c.Delta)
	case !(c.MaxGradNorm > 0) || math.IsInf(c.MaxGradNorm, 0):
		return fmt.Errorf("train: max_grad_norm %g: want a finite value > 0", c.MaxGradNorm)
	case c.TargetEpsilon < 0 || math.IsInf(c.TargetEpsilon, 0) || math.IsNaN(c.TargetEpsilon):
		return fmt.Errorf("train: target_epsilon %g: want a finite value > 0", c.TargetEpsilon)
	case c.NoiseMultiplier < 0 || math.IsInf(c.NoiseMultiplier, 0) || math.IsNaN(c.NoiseMultiplier):
		return fmt.Errorf("train: noise_multiplier %g: want >= 0", c.NoiseMultiplier)
	case c.TargetEpsilon == 0 && c.NoiseMultiplier == 0:
		return fmt.Errorf("train: dp needs a target_epsilon (--target-epsilon) or a noise_multiplier (--noise-multiplier)")
	case c.ClipNorm != 0:
		return fmt.Errorf("train: clip_norm %g: DP-SGD clips each image's gradient to max_grad_norm instead; leave clip_norm at 0", c.ClipNorm)
	case c.BalanceBy != "":
		return fmt.Errorf("train: balance_by %q with dp: clipping bounds every image's gradient alike, which undoes loss weights (weights after clipping would need their own accounting)", c.BalanceBy)
	}
	return nil
}

// ModelSpec returns the spec the run's model is built with: group norm in
// place of batch norm for a DP run.
func (ri *RunInfo) ModelSpec() models.Spec {
	s := models.Spec{Classes: len(ri.Classes), InChannels: ri.Channels, Size: ri.Config.Size, Dropout: ri.Config.Dropout}
	if ri.Config.DP {
		s.Norm = "group"
	}
	return s
}

// dpState is a DP-SGD run's machinery beside the session.
type dpState struct {
	clip    *privacy.Clipper
	params  []*nn.Param
	rng     *rand.Rand // cryptographic: batches and noise
	batches *poissonBatches
	rdp1    []float64 // RDP of one step at privacy.DefaultOrders
	ledger  privacy.Ledger
}

// newDP sets up DP-SGD for session s over the training images, choosing
// the noise for the target ε if none is given.
func newDP(s *session, trainDS *data.Dataset) (*dpState, error) {
	cfg := s.cfg
	n := trainDS.Len()
	q := float64(cfg.Batch) / float64(n)
	if q > 1 {
		return nil, fmt.Errorf("train: batch %d exceeds the %d training images", cfg.Batch, n)
	}
	if cfg.Delta >= 1/float64(n) {
		fmt.Fprintf(s.log, "warning: delta %g is not far below 1/%d training images; the guarantee is weak\n", cfg.Delta, n)
	}
	if k := countGroupNorms(s.model); k > 0 {
		fmt.Fprintf(s.log, "DP-SGD: %d batch norms replaced by group norms (batch statistics mix the images of a batch)\n", k)
	}
	clip, err := privacy.NewClipper(s.model, cfg.MaxGradNorm)
	if err != nil {
		return nil, fmt.Errorf("train: %s cannot be trained with DP-SGD: %w", cfg.Model, err)
	}
	planned := cfg.Epochs * s.spe
	sigma := cfg.NoiseMultiplier
	if sigma == 0 {
		if sigma, err = privacy.NoiseForEpsilon(cfg.TargetEpsilon, cfg.Delta, q, planned); err != nil {
			return nil, err
		}
	}
	d := &dpState{clip: clip, params: nn.Params(s.model), rng: privacy.SecureRand(),
		rdp1: privacy.SampledGaussianRDP(q, sigma, privacy.DefaultOrders),
		ledger: privacy.Ledger{Delta: cfg.Delta, TargetEpsilon: cfg.TargetEpsilon, PlannedSteps: planned,
			SampleRate: q, NoiseMultiplier: sigma, MaxGradNorm: cfg.MaxGradNorm,
			ExpectedBatch: float64(cfg.Batch), TrainExamples: n, Covers: privacy.Covered}}
	if d.batches, err = newPoissonBatches(trainDS, s.info, cfg, q, s.spe, d.rng); err != nil {
		return nil, err
	}
	eps, _ := d.epsilon(planned)
	fmt.Fprintf(s.log, "DP-SGD: noise multiplier %.4g, clip %g, sampling rate %.4g (batches of %d on average), %d steps: epsilon %.4g at delta %g\n",
		sigma, cfg.MaxGradNorm, q, cfg.Batch, planned, eps, cfg.Delta)
	return d, nil
}

// epsilon returns the ε and order after steps steps.
func (d *dpState) epsilon(steps int) (float64, float64) {
	r := make([]float64, len(d.rdp1))
	for i, v := range d.rdp1 {
		r[i] = float64(steps) * v
	}
	return privacy.EpsilonFromRDP(privacy.DefaultOrders, r, d.ledger.Delta)
}

// allows reports whether one more step after steps stays within the
// target ε (always, when no target is set).
func (d *dpState) allows(steps int) bool {
	if d.ledger.TargetEpsilon == 0 {
		return true
	}
	eps, _ := d.epsilon(steps + 1)
	return eps <= d.ledger.TargetEpsilon
}

// record writes the ledger for steps steps to dir/privacy.json.
func (d *dpState) record(dir string, steps int) error {
	d.ledger.Steps = steps
	d.ledger.Epsilon, d.ledger.Order = d.epsilon(steps)
	d.ledger.Accountant = privacy.AccountantName
	return privacy.WriteLedger(dir, &d.ledger)
}

// dpStep runs one DP-SGD step on a Poisson-sampled batch (its gradients
// already zeroed, its learning rate set) and returns the batch's mean loss.
// An empty batch still gets its noise: skipping it would tell that the
// sample came out empty.
func (s *session) dpStep(b *data.Batch) float32 {
	d := s.dp
	var loss float32
	if n := len(b.Indices); n > 0 {
		logits := s.model.Forward(b.X)
		var g *tensor.Tensor // dL/dlogits of the batch's mean loss
		if s.info.MultiLabel {
			loss = s.bce.Forward(logits, b.Targets)
			g = s.bce.Backward()
		} else {
			loss = s.ce.Forward(logits, b.Labels)
			g = s.ce.Backward()
		}
		// Row n of a mean loss's gradient is sample n's own loss gradient
		// over the batch's total weight: undo the mean.
		total := float32(n)
		if w := s.ce.Weight; w != nil && !s.info.MultiLabel {
			total = 0
			for _, y := range b.Labels {
				total += w[y]
			}
		}
		gv := g.Values()
		for i := range gv {
			gv[i] *= total
		}
		d.clip.Backward(g)
	}
	privacy.AddNoise(d.params, d.ledger.NoiseMultiplier*d.ledger.MaxGradNorm, 1/d.ledger.ExpectedBatch, d.rng)
	s.optim.Step()
	return loss
}

// checkpoint saves the loop state as saveCheckpoint does, writing the
// privacy ledger first in a DP run, so the ledger never counts fewer
// steps than a saved model has taken.
func (s *session) checkpoint(st loopState) error {
	if s.dp != nil {
		if err := s.dp.record(s.opt.Out, st.Step); err != nil {
			return err
		}
	}
	return saveCheckpoint(s.opt.Out, s.model, s.optim, st)
}

// countGroupNorms returns the number of group norms in m.
func countGroupNorms(m nn.Module) int {
	k := 0
	if _, ok := m.(*nn.GroupNorm); ok {
		k++
	}
	if p, ok := m.(nn.Parent); ok {
		for _, c := range p.Children() {
			k += countGroupNorms(c.Module)
		}
	}
	return k
}
