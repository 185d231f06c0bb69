package train

import (
	"context"
	"fmt"
	"image"
	"image/color"
	"math"
	"time"

	"github.com/deepscope/deepscope/data"
	"github.com/deepscope/deepscope/nn"
	"github.com/deepscope/deepscope/optim"
	"github.com/deepscope/deepscope/progress"
	"github.com/deepscope/deepscope/tensor"
)

// loop runs epochs from st to the end, validating and checkpointing.
func (s *session) loop(ctx context.Context, st loopState) (*Summary, error) {
	cfg := s.cfg
	sum := &Summary{Stopped: "epochs"}
	stepsHere := 0
	for !st.Done && st.Epoch < cfg.Epochs {
		nn.SetTraining(s.model, true)
		t0 := time.Now()
		mark := t0 // training time up to mark is already in st.Elapsed
		imagesAtStart := st.Images
		bar := progress.New(s.log, s.spe, fmt.Sprintf("epoch %d/%d", st.Epoch+1, cfg.Epochs))
		batches := s.train.Epoch(st.Epoch, st.Batch)
		if s.dp != nil {
			batches = s.dp.batches.Epoch(st.Epoch, st.Batch)
		}
		for b, err := range batches {
			if err != nil {
				return nil, err
			}
			if ctx.Err() != nil || (s.opt.StopAfterSteps > 0 && stepsHere >= s.opt.StopAfterSteps) {
				return nil, ErrInterrupted
			}
			if s.dp != nil && !s.dp.allows(st.Step) {
				eps, _ := s.dp.epsilon(st.Step)
				fmt.Fprintf(s.log, "privacy budget: %d steps spent epsilon %.4g of %g at delta %g; one more would exceed it: stopping\n",
					st.Step, eps, cfg.TargetEpsilon, cfg.Delta)
				st.Done, sum.Stopped = true, "privacy budget"
				break
			}
			loss := s.step(b, st.Step)
			if s.gpu != nil && s.gpu.err != nil {
				return nil, s.gpu.err
			}
			if math.IsNaN(float64(loss)) || math.IsInf(float64(loss), 0) {
				return nil, fmt.Errorf("train: loss is %v at epoch %d, batch %d: lower --lr", loss, st.Epoch+1, b.Index)
			}
			if st.Epoch == 0 && b.Index == 0 && st.Step == 0 && s.dp == nil { // a DP run writes no training image
				s.logSampleImages(b)
			}
			st.Step++
			stepsHere++
			if s.opt.StepHook != nil {
				s.opt.StepHook(st.Step)
			}
			st.Batch = b.Index + 1
			st.LossSum += float64(loss)
			st.LossN++
			st.Images += len(b.Labels)
			elapsed := time.Since(t0).Seconds()
			rate := float64(st.Images-imagesAtStart) / elapsed
			bar.Update(st.Batch, progress.Float("loss", st.LossSum/float64(st.LossN)), progress.Float("img/s", rate))
			if st.Step%25 == 0 {
				s.tb.Scalar("train/loss", int64(st.Step), float64(loss))
				s.tb.Scalar("train/lr", int64(st.Step), s.optim.LR())
			}
			if cfg.CheckpointEvery > 0 && st.Step%cfg.CheckpointEvery == 0 && st.Batch < s.spe {
				st.Elapsed += time.Since(mark).Seconds()
				mark = time.Now()
				if err := s.syncDevice(); err != nil {
					return nil, err
				}
				if err := s.checkpoint(st); err != nil {
					return nil, err
				}
			}
		}
		bar.Done()
		trainSeconds := time.Since(t0).Seconds()
		st.Elapsed += time.Since(mark).Seconds()
		if err := s.endEpoch(&st, trainSeconds, float64(st.Images-imagesAtStart)/trainSeconds); err != nil {
			return nil, err
		}
		if cfg.Patience > 0 && st.Bad >= cfg.Patience {
			st.Done = true
			sum.Stopped = "early stopping"
			fmt.Fprintf(s.log, "no improvement in %s for %d epochs: stopping\n", cfg.Monitor, cfg.Patience)
		}
		if err := s.checkpoint(st); err != nil {
			return nil, err
		}
		if !st.Done && s.opt.EpochHook != nil && s.opt.EpochHook(s.logs[len(s.logs)-1]) {
			sum.Stopped = "paused"
			break
		}
	}
	sum.Epochs, sum.BestEpoch, sum.Best = st.Epoch, st.BestEpoch, st.Best
	sum.Seconds = st.Elapsed
	if st.Elapsed > 0 {
		sum.ImgPerSec = float64(st.Images) / st.Elapsed
	}
	return sum, s.tb.Flush()
}

// step runs one optimizer step on batch b and returns its loss.
func (s *session) step(b *data.Batch, step int) float32 {
	s.optim.SetLR(s.sched.LR(step))
	nn.Seed(s.model, s.cfg.Seed*0x9E3779B97F4A7C15+uint64(step))
	if s.gpu != nil {
		return s.gpu.step(s, b, step)
	}
	s.optim.ZeroGrad()
	if s.dp != nil {
		return s.dpStep(b)
	}
	logits := s.model.Forward(b.X)
	var loss float32
	if s.info.MultiLabel {
		loss = s.bce.Forward(logits, b.Targets)
		s.model.Backward(s.bce.Backward())
	} else {
		loss = s.ce.Forward(logits, b.Labels)
		grad := s.ce.Backward()
		if s.balance != nil {
			loss = s.balance.reweight(&s.ce, logits, b.Labels, b.Indices, grad)
		}
		s.model.Backward(grad)
	}
	if s.cfg.ClipNorm > 0 {
		optim.ClipGradNorm(s.optim.Params(), s.cfg.ClipNorm)
	}
	s.optim.Step()
	return loss
}

// endEpoch validates, logs, keeps the best model and advances st.
func (s *session) endEpoch(st *loopState, seconds, rate float64) error {
	t0 := time.Now()
	if err := s.syncDevice(); err != nil {
		return err
	}
	ev, err := Evaluate(s.evalModel(), s.val, s.info, EvalOptions{Resamples: -1})
	if err == nil && s.gpu != nil {
		err = s.gpu.err
	}
	if err != nil {
		return err
	}
	score := ev.Result.AUC
	switch s.cfg.Monitor {
	case "accuracy":
		score = ev.Result.Accuracy
		if s.info.MultiLabel {
			score = ev.Result.SubsetAccuracy
		}
	case "loss":
		score = -ev.Loss
	}
	epoch := st.Epoch + 1
	l := EpochLog{Epoch: epoch, Step: st.Step, LR: s.optim.LR(), TrainLoss: st.LossSum / math.Max(1, float64(st.LossN)),
		ValLoss: ev.Loss, ValAccuracy: ev.Result.Accuracy, ValAUC: ev.Result.AUC,
		Seconds: seconds + time.Since(t0).Seconds(), ImgPerSec: rate}
	if s.info.MultiLabel {
		l.ValAccuracy = ev.Result.SubsetAccuracy
	}
	if score > st.Best || st.BestEpoch == 0 {
		st.Best, st.BestEpoch, st.Bad = score, epoch, 0
		l.Best = true
		if err := saveBest(s.opt.Out, s.model, epoch, score); err != nil {
			return err
		}
	} else {
		st.Bad++
	}
	s.logs = append(s.logs, l)
	if err := writeMetrics(s.opt.Out, s.logs); err != nil {
		return err
	}
	for tag, v := range map[string]float64{"train/epoch_loss": l.TrainLoss, "val/loss": l.ValLoss,
		"val/accuracy": l.ValAccuracy, "val/auc": l.ValAUC, "train/img_per_s": l.ImgPerSec} {
		s.tb.Scalar(tag, int64(epoch), v)
	}
	nn.Walk(s.model, func(name string, p *nn.Param) {
		if p.Grad != nil && p.Value.Dims() >= 2 {
			s.tb.Histogram("weights/"+name, int64(epoch), p.Value.Values())
		}
	})
	if err := s.tb.Flush(); err != nil {
		return err
	}
	mark := ""
	if l.Best {
		mark = "  (best)"
	}
	fmt.Fprintf(s.log, "epoch %d/%d  train loss %.4f  val loss %.4f  val acc %.4f  val auc %.4f  %.0f img/s  %.0fs%s\n",
		epoch, s.cfg.Epochs, l.TrainLoss, l.ValLoss, l.ValAccuracy, l.ValAUC, rate, l.Seconds, mark)
	st.Epoch++
	st.Batch, st.LossSum, st.LossN = 0, 0, 0
	return nil
}

// logSampleImages writes the first training batch's first images, as the
// model sees them after augmentation, to TensorBoard.
func (s *session) logSampleImages(b *data.Batch) {
	n := min(8, b.X.Dim(0))
	for i := 0; i < n; i++ {
		s.tb.Image(fmt.Sprintf("train/sample_%d", i), 0, toImage(b.X, i, s.info.Mean, s.info.Std))
	}
}

// toImage undoes the normalisation of image i of a batch [N, H, W, C].
func toImage(x *tensor.Tensor, i int, mean, std []float32) image.Image {
	h, w, c := x.Dim(1), x.Dim(2), x.Dim(3)
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	v := x.Values()[i*h*w*c:]
	for y := 0; y < h; y++ {
		for xx := 0; xx < w; xx++ {
			var rgb [3]uint8
			for ch := 0; ch < 3; ch++ {
				k := min(ch, c-1)
				f := v[(y*w+xx)*c+k]
				if k < len(std) {
					f = f*std[k] + mean[k]
				}
				rgb[ch] = uint8(math.Round(float64(min(max(f, 0), 1)) * 255))
			}
			img.Set(xx, y, color.RGBA{rgb[0], rgb[1], rgb[2], 255})
		}
	}
	return img
}
