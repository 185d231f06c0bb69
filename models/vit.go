package models

import (
	"math/rand/v2"

	"github.com/deepscope/deepscope/nn"
	"github.com/deepscope/deepscope/tensor"
)

// ViT is the vision transformer of Dosovitskiy et al. (2021): the image cut
// into patches, each embedded linearly, a class token prepended, learned
// position embeddings added, then pre-norm transformer blocks, a final
// LayerNorm and a linear head on the class token. Names follow timm's
// VisionTransformer ("patch_embed.proj.weight", "blocks.0.norm1.weight",
// "blocks.0.mlp.fc1.weight", "head.bias"), with the attention weights in
// torch.nn.MultiheadAttention's form ("blocks.0.attn.in_proj_weight").
type ViT struct {
	Patch  *nn.Conv2d // kernel = stride = patch size: one embedding per patch
	Tokens *tokens
	Blocks *nn.Sequential
	Norm   *nn.LayerNorm
	Head   *nn.Linear

	n, t, d, grid int
	cls           *tensor.Tensor // [N, D]: the class token after the final norm
	dnorm         *tensor.Tensor // [N, T+1, D]: gradient at the final norm's output
}

// ViTConfig chooses a ViT variant. ViT-tiny is Dim 192, Depth 12, Heads 3.
type ViTConfig struct {
	Size, Patch, InChannels, Classes int
	Dim, Depth, Heads, MLPRatio      int
}

// NewViT builds a ViT from cfg with weights drawn from rng.
func NewViT(rng *rand.Rand, cfg ViTConfig) *ViT {
	if cfg.MLPRatio == 0 {
		cfg.MLPRatio = 4
	}
	if cfg.InChannels == 0 {
		cfg.InChannels = 3
	}
	grid := cfg.Size / cfg.Patch
	v := &ViT{
		Patch:  nn.NewConv2d(rng, nn.ConvConfig{In: cfg.InChannels, Out: cfg.Dim, Kernel: cfg.Patch, Stride: cfg.Patch, Bias: true}),
		Tokens: newTokens(rng, grid*grid, cfg.Dim),
		Norm:   nn.NewLayerNorm(cfg.Dim),
		Head:   nn.NewLinear(rng, cfg.Dim, cfg.Classes, true),
		t:      grid * grid, d: cfg.Dim, grid: grid,
	}
	blocks := make([]nn.Module, cfg.Depth)
	for i := range blocks {
		blocks[i] = newEncoderBlock(rng, cfg.Dim, cfg.Heads, cfg.Dim*cfg.MLPRatio)
	}
	v.Blocks = nn.NewSequential(blocks...)
	return v
}

// Children names the parts as timm does; cls_token and pos_embed are
// top-level parameters there, so the tokens part is unnamed here.
func (v *ViT) Children() []nn.Child {
	return []nn.Child{
		{Name: "patch_embed.proj", Module: v.Patch},
		{Name: "blocks", Module: v.Blocks},
		{Name: "norm", Module: v.Norm},
		{Name: "head", Module: v.Head},
	}
}

// Params returns the class token and position embeddings.
func (v *ViT) Params() []*nn.Param { return v.Tokens.Params() }

// Forward maps images [N, H, W, C] to logits [N, classes].
func (v *ViT) Forward(x *tensor.Tensor) *tensor.Tensor {
	p := v.Patch.Forward(x) // [N, h, w, D]: channels-last makes this [N, T, D] for free
	v.n = p.Shape[0]
	h := v.Tokens.Forward(p.Reshape(v.n, v.t, v.d))
	h = v.Norm.Forward(v.Blocks.Forward(h))
	cls := tensor.Ensure(&v.cls, v.n, v.d)
	for i := 0; i < v.n; i++ {
		copy(cls.Data[i*v.d:(i+1)*v.d], h.Data[i*(v.t+1)*v.d:])
	}
	return v.Head.Forward(cls)
}

// Backward returns dL/dx for the last Forward, accumulating all gradients.
func (v *ViT) Backward(dy *tensor.Tensor) *tensor.Tensor {
	dc := v.Head.Backward(dy)
	dn := tensor.Ensure(&v.dnorm, v.n, v.t+1, v.d)
	dn.Zero()
	for i := 0; i < v.n; i++ {
		copy(dn.Data[i*(v.t+1)*v.d:], dc.Data[i*v.d:(i+1)*v.d])
	}
	d := v.Tokens.Backward(v.Blocks.Backward(v.Norm.Backward(dn)))
	return v.Patch.Backward(d.Reshape(v.n, v.grid, v.grid, v.d))
}

// tokens prepends the class token and adds the position embeddings:
// out[n, 0] = cls + pos[0], out[n, 1+t] = x[n, t] + pos[1+t].
type tokens struct {
	Cls, Pos *nn.Param
	out, dx  *tensor.Tensor
}

func newTokens(rng *rand.Rand, t, d int) *tokens {
	return &tokens{
		Cls: nn.NewParam("cls_token", tensor.Randn(rng, 0.02, 1, 1, d)),
		Pos: nn.NewParam("pos_embed", tensor.Randn(rng, 0.02, 1, t+1, d)),
	}
}

func (k *tokens) Params() []*nn.Param { return []*nn.Param{k.Cls, k.Pos} }

func (k *tokens) Forward(x *tensor.Tensor) *tensor.Tensor {
	n, t, d := x.Shape[0], x.Shape[1], x.Shape[2]
	out := tensor.Ensure(&k.out, n, t+1, d)
	cls, pos, xs := k.Cls.Value.Data, k.Pos.Value.Data, x.Values()
	for i := 0; i < n; i++ {
		o := out.Data[i*(t+1)*d : (i+1)*(t+1)*d]
		for j := 0; j < d; j++ {
			o[j] = cls[j] + pos[j]
		}
		src := xs[i*t*d : (i+1)*t*d]
		for j, v := range src {
			o[d+j] = v + pos[d+j]
		}
	}
	return out
}

func (k *tokens) Backward(dy *tensor.Tensor) *tensor.Tensor {
	n, t1, d := dy.Shape[0], dy.Shape[1], dy.Shape[2]
	dx := tensor.Ensure(&k.dx, n, t1-1, d)
	gc, gp, g := k.Cls.Grad.Data, k.Pos.Grad.Data, dy.Values()
	for i := 0; i < n; i++ {
		row := g[i*t1*d : (i+1)*t1*d]
		for j := 0; j < d; j++ {
			gc[j] += row[j]
		}
		for j, v := range row {
			gp[j] += v
		}
		copy(dx.Data[i*(t1-1)*d:], row[d:])
	}
	return dx
}

// encoderBlock is a pre-norm transformer block:
// x1 = x + attn(norm1(x)); y = x1 + mlp(norm2(x1)).
type encoderBlock struct {
	Norm1 *nn.LayerNorm
	Attn  *nn.MultiheadAttention
	Norm2 *nn.LayerNorm
	MLP   *mlp

	x1, y, dx1, dx *tensor.Tensor
}

func newEncoderBlock(rng *rand.Rand, dim, heads, hidden int) *encoderBlock {
	return &encoderBlock{
		Norm1: nn.NewLayerNorm(dim),
		Attn:  nn.NewMultiheadAttention(rng, dim, heads),
		Norm2: nn.NewLayerNorm(dim),
		MLP:   &mlp{FC1: nn.NewLinear(rng, dim, hidden, true), Act: &nn.GELU{}, FC2: nn.NewLinear(rng, hidden, dim, true)},
	}
}

func (b *encoderBlock) Children() []nn.Child {
	return []nn.Child{{Name: "norm1", Module: b.Norm1}, {Name: "attn", Module: b.Attn}, {Name: "norm2", Module: b.Norm2}, {Name: "mlp", Module: b.MLP}}
}

func (b *encoderBlock) Forward(x *tensor.Tensor) *tensor.Tensor {
	x1 := tensor.Ensure(&b.x1, x.Shape...)
	addInto(x1, x, b.Attn.Forward(b.Norm1.Forward(x)))
	y := tensor.Ensure(&b.y, x.Shape...)
	addInto(y, x1, b.MLP.Forward(b.Norm2.Forward(x1)))
	return y
}

func (b *encoderBlock) Backward(dy *tensor.Tensor) *tensor.Tensor {
	dx1 := tensor.Ensure(&b.dx1, dy.Shape...)
	addInto(dx1, dy, b.Norm2.Backward(b.MLP.Backward(dy)))
	dx := tensor.Ensure(&b.dx, dy.Shape...)
	addInto(dx, dx1, b.Norm1.Backward(b.Attn.Backward(dx1)))
	return dx
}

// mlp is the transformer's feed-forward part: fc1, GELU, fc2.
type mlp struct {
	FC1 *nn.Linear
	Act *nn.GELU
	FC2 *nn.Linear
}

func (m *mlp) Children() []nn.Child {
	return []nn.Child{{Name: "fc1", Module: m.FC1}, {Name: "fc2", Module: m.FC2}}
}

func (m *mlp) Forward(x *tensor.Tensor) *tensor.Tensor {
	return m.FC2.Forward(m.Act.Forward(m.FC1.Forward(x)))
}

func (m *mlp) Backward(dy *tensor.Tensor) *tensor.Tensor {
	return m.FC1.Backward(m.Act.Backward(m.FC2.Backward(dy)))
}
