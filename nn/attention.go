package nn

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/deepscope/deepscope/tensor"
)

// MultiheadAttention is multi-head scaled dot-product self-attention on
// batch-first sequences [N, T, Dim], like torch.nn.MultiheadAttention(dim,
// heads, batch_first=True) called as mha(x, x, x) without masks or dropout.
//
// One packed projection makes queries, keys and values, [q k v] = x Wᵀ + b
// with W = in_proj_weight [3·Dim, Dim]; each head h attends with
// softmax(q_h k_hᵀ / √(Dim/Heads)) v_h, and out_proj maps the concatenated
// heads back to Dim.
type MultiheadAttention struct {
	Dim, Heads   int
	InProjWeight *Param  // "in_proj_weight", [3·Dim, Dim]
	InProjBias   *Param  // "in_proj_bias", [3·Dim]
	OutProj      *Linear // child "out_proj", Dim → Dim

	x              *tensor.Tensor // cached input, [N, T, Dim]
	qkv, dqkv      *tensor.Tensor // [N, T, 3·Dim]
	attn, dattn    *tensor.Tensor // attention weights and scratch, [N, Heads, T, T]
	ctx, dx        *tensor.Tensor // heads concatenated [N, T, Dim]; input gradient
	ga, gb         *tensor.Tensor // per-sample scratch
	perSampleReady bool
}

// NewMultiheadAttention returns self-attention over dim features split into
// heads heads (dim must be divisible by heads), initialised as PyTorch does:
// in_proj_weight xavier_uniform (U(±√(6/(4·dim)))), both biases zero,
// out_proj.weight as a Linear (U(±1/√dim)).
func NewMultiheadAttention(rng *rand.Rand, dim, heads int) *MultiheadAttention {
	if dim <= 0 || heads <= 0 || dim%heads != 0 {
		panic(fmt.Sprintf("nn: NewMultiheadAttention(%d, %d): dim must be a positive multiple of heads", dim, heads))
	}
	bound := float32(math.Sqrt(6 / float64(dim+3*dim)))
	m := &MultiheadAttention{
		Dim: dim, Heads: heads,
		InProjWeight: NewParam("in_proj_weight", tensor.Uniform(rng, -bound, bound, 3*dim, dim)),
		InProjBias:   NewParam("in_proj_bias", tensor.New(3*dim)),
		OutProj:      NewLinear(rng, dim, dim, true),
	}
	m.InProjBias.NoDecay = true
	m.OutProj.Bias.Value.Zero()
	return m
}

// Params returns in_proj_weight and in_proj_bias.
func (m *MultiheadAttention) Params() []*Param { return []*Param{m.InProjWeight, m.InProjBias} }

// Children returns out_proj.
func (m *MultiheadAttention) Children() []Child {
	return []Child{{Name: "out_proj", Module: m.OutProj}}
}

// Weights returns the attention weights of the last Forward, [N, Heads, T,
// T], each row a distribution over the keys (attention maps for
// explanations). The tensor is reused by the next Forward.
func (m *MultiheadAttention) Weights() *tensor.Tensor { return m.attn }

// Forward attends over the T positions of x [N, T, Dim].
func (m *MultiheadAttention) Forward(x *tensor.Tensor) *tensor.Tensor {
	if x.Dims() != 3 || x.Dim(2) != m.Dim {
		panic(fmt.Sprintf("nn: MultiheadAttention: input shape %v, want [N, T, %d]", x.Shape, m.Dim))
	}
	n, t, d := x.Dim(0), x.Dim(1), m.Dim
	m.x = x.Contiguous()
	qkv := tensor.Ensure(&m.qkv, n, t, 3*d).Values()
	denseForward(qkv, m.x.Values(), m.InProjWeight.Value.Values(), m.InProjBias.Value.Values(), n*t, d, 3*d)
	attn := tensor.Ensure(&m.attn, n, m.Heads, t, t).Values()
	ctx := tensor.Ensure(&m.ctx, n, t, d).Values()
	dh := d / m.Heads
	scale := float32(1 / math.Sqrt(float64(dh)))
	tensor.Parallel(n*m.Heads, 1, func(lo, hi int) {
		for p := lo; p < hi; p++ {
			b, h := p/m.Heads, p%m.Heads
			q, k, v := qkv[b*t*3*d+h*dh:], qkv[b*t*3*d+d+h*dh:], qkv[b*t*3*d+2*d+h*dh:]
			s := attn[p*t*t : (p+1)*t*t]
			tensor.Gemm(false, true, t, t, dh, scale, q, 3*d, k, 3*d, 0, s, t)
			tensor.SoftmaxRows(s, s, t, t)
			tensor.Gemm(false, false, t, dh, t, 1, s, t, v, 3*d, 0, ctx[b*t*d+h*dh:], d)
		}
	})
	m.perSampleReady = false
	return m.OutProj.Forward(m.ctx)
}

// Backward runs the attention backward per head: with P the weights and
// dO the gradient of the head's output, dV = Pᵀ dO, dS = softmax'(P, dO Vᵀ),
// dQ = dS K/√dₕ and dK = dSᵀ Q/√dₕ; then the packed projection's backward.
func (m *MultiheadAttention) Backward(dy *tensor.Tensor) *tensor.Tensor {
	if m.x == nil {
		panic("nn: MultiheadAttention: Backward before Forward")
	}
	dctx := m.OutProj.Backward(dy).Values()
	n, t, d := m.x.Dim(0), m.x.Dim(1), m.Dim
	dh := d / m.Heads
	scale := float32(1 / math.Sqrt(float64(dh)))
	qkv, attn := m.qkv.Values(), m.attn.Values()
	dqkv := tensor.Ensure(&m.dqkv, n, t, 3*d).Values()
	dattn := tensor.Ensure(&m.dattn, n, m.Heads, t, t).Values()
	tensor.Parallel(n*m.Heads, 1, func(lo, hi int) {
		for p := lo; p < hi; p++ {
			b, h := p/m.Heads, p%m.Heads
			o := b*t*3*d + h*dh
			q, k, v := qkv[o:], qkv[o+d:], qkv[o+2*d:]
			dq, dk, dv := dqkv[o:], dqkv[o+d:], dqkv[o+2*d:]
			pr, ds := attn[p*t*t:(p+1)*t*t], dattn[p*t*t:(p+1)*t*t]
			do := dctx[b*t*d+h*dh:]
			tensor.Gemm(false, true, t, t, dh, 1, do, d, v, 3*d, 0, ds, t)
			tensor.Gemm(true, false, t, dh, t, 1, pr, t, do, d, 0, dv, 3*d)
			tensor.SoftmaxRowsBackward(ds, pr, ds, t, t)
			tensor.Gemm(false, false, t, dh, t, scale, ds, t, k, 3*d, 0, dq, 3*d)
			tensor.Gemm(true, false, t, dh, t, scale, ds, t, q, 3*d, 0, dk, 3*d)
		}
	})
	dx := tensor.Ensure(&m.dx, n, t, d)
	denseBackward(dx.Values(), m.InProjWeight.Grad.Values(), m.InProjBias.Grad.Values(), dqkv, m.x.Values(), m.InProjWeight.Value.Values(), n*t, d, 3*d)
	m.perSampleReady = true
	return dx
}

// AddPerSampleGradSq adds each sample's squared gradient norm of
// in_proj_weight and in_proj_bias (out_proj reports its own), by the same
// method as Linear over the T positions of each sample.
func (m *MultiheadAttention) AddPerSampleGradSq(sq []float64) {
	if !m.perSampleReady || m.x.Dim(0) != len(sq) {
		panic(fmt.Sprintf("nn: MultiheadAttention: per-sample norms for %d samples without a matching Backward", len(sq)))
	}
	t, d := m.x.Dim(1), m.Dim
	denseSampleSq(sq, m.x.Values(), m.dqkv.Values(), t, d, 3*d, true, useGhost(t, d, 3*d), &m.ga, &m.gb)
}
