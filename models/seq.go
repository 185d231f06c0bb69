package models

import (
	"math/rand/v2"

	"github.com/deepscope/deepscope/nn"
	"github.com/deepscope/deepscope/tensor"
)

// SeqNet classifies time-lapse sequences: a small CNN embeds every frame, an
// LSTM reads the embeddings in order, and a linear head classifies the last
// step. Input [N, T, H, W, C]; output logits [N, classes].
type SeqNet struct {
	Encoder *nn.Sequential // frames [N*T, H, W, C] -> [N*T, F]
	LSTM    *nn.LSTM
	Last    *nn.LastStep
	FC      *nn.Linear

	n, t int
	in   []int
}

// SeqNetConfig chooses a SeqNet: Width channels in the first conv stage
// (doubled twice), Hidden LSTM units.
type SeqNetConfig struct {
	InChannels, Classes, Width, Hidden int
}

// NewSeqNet builds a SeqNet from cfg with weights drawn from rng.
func NewSeqNet(rng *rand.Rand, cfg SeqNetConfig) *SeqNet {
	if cfg.Width == 0 {
		cfg.Width = 16
	}
	if cfg.Hidden == 0 {
		cfg.Hidden = 64
	}
	if cfg.InChannels == 0 {
		cfg.InChannels = 3
	}
	w := cfg.Width
	stage := func(in, out int) []nn.Module {
		return []nn.Module{
			nn.NewConv2d(rng, nn.ConvConfig{In: in, Out: out, Kernel: 3, Padding: 1}),
			bnReLU(out), nn.NewMaxPool2d(2, 2, 0),
		}
	}
	var enc []nn.Module
	enc = append(enc, stage(cfg.InChannels, w)...)
	enc = append(enc, stage(w, 2*w)...)
	enc = append(enc, stage(2*w, 4*w)...)
	enc = append(enc, &nn.GlobalAvgPool{})
	return &SeqNet{
		Encoder: nn.NewSequential(enc...),
		LSTM:    nn.NewLSTM(rng, 4*w, cfg.Hidden, 1),
		Last:    &nn.LastStep{},
		FC:      nn.NewLinear(rng, cfg.Hidden, cfg.Classes, true),
	}
}

// Children names the parts encoder, lstm, fc.
func (s *SeqNet) Children() []nn.Child {
	return []nn.Child{{Name: "encoder", Module: s.Encoder}, {Name: "lstm", Module: s.LSTM}, {Name: "fc", Module: s.FC}}
}

// Forward maps sequences [N, T, H, W, C] to logits [N, classes].
func (s *SeqNet) Forward(x *tensor.Tensor) *tensor.Tensor {
	s.in = append(s.in[:0], x.Shape...)
	s.n, s.t = x.Shape[0], x.Shape[1]
	f := s.Encoder.Forward(x.Reshape(s.n*s.t, x.Shape[2], x.Shape[3], x.Shape[4]))
	h := s.LSTM.Forward(f.Reshape(s.n, s.t, f.Dim(-1)))
	return s.FC.Forward(s.Last.Forward(h))
}

// Backward returns dL/dx for the last Forward, accumulating all gradients.
func (s *SeqNet) Backward(dy *tensor.Tensor) *tensor.Tensor {
	d := s.LSTM.Backward(s.Last.Backward(s.FC.Backward(dy)))
	d = s.Encoder.Backward(d.Reshape(s.n*s.t, d.Dim(-1)))
	return d.Reshape(s.in...)
}
