package nn

import (
	"fmt"
	"math"

	"github.com/deepscope/deepscope/tensor"
)

// BatchNorm2d normalises each channel of a channels-last [N, H, W, C] map,
// as PyTorch's nn.BatchNorm2d with its defaults (affine, eps 1e-5, momentum
// 0.1, running statistics tracked). In training it normalises with the
// batch's mean and biased variance over N*H*W values and moves the running
// mean and the running (unbiased) variance towards them; in evaluation it
// uses the running statistics. Statistics are summed in float64.
type BatchNorm2d struct {
	Weight, Bias      *Param // [C], initialised to 1 and 0
	RunningMean       *Param // [C] buffer, initially 0
	RunningVar        *Param // [C] buffer, initially 1
	NumBatchesTracked *Param // scalar int64 buffer
	Eps, Momentum     float64
	// ReLU fuses a ReLU into the layer: the output is max(0, normalised),
	// and Backward masks dy by it. One pass over the map less each way than
	// a separate ReLU module; the parameters and results are the same.
	ReLU     bool
	training bool
	addReLU  bool // the last forward was ForwardAddReLU

	x              *tensor.Tensor
	batchStats     bool      // the last Forward used batch statistics
	mean, invstd   []float64 // per channel, of the last Forward
	scale, shift   []float32
	dxs, dress     *tensor.Arena // where dx and dres live when shared; nil: in dx and dres
	mean32, centre []float32     // the mean rounded to float32; the first pass's centre
	coef           []float32     // backward's per-channel coefficients
	y, dx, dres    *tensor.Tensor
	part           []float64
}

// NewBatchNorm2d returns a batch normalisation over c channels, in training mode.
func NewBatchNorm2d(c int) *BatchNorm2d {
	if c <= 0 {
		panic(fmt.Sprintf("nn: NewBatchNorm2d: %d channels", c))
	}
	l := &BatchNorm2d{
		Weight:            NewParam("weight", tensor.Full(1, c)),
		Bias:              NewParam("bias", tensor.New(c)),
		RunningMean:       NewBuffer("running_mean", tensor.New(c)),
		RunningVar:        NewBuffer("running_var", tensor.Full(1, c)),
		NumBatchesTracked: NewBuffer("num_batches_tracked", tensor.New()),
		Eps:               1e-5,
		Momentum:          0.1,
		training:          true,
	}
	l.Weight.NoDecay, l.Bias.NoDecay = true, true
	l.NumBatchesTracked.Int = true
	return l
}

// Params returns weight, bias and the three buffers, in PyTorch's order.
func (l *BatchNorm2d) Params() []*Param {
	return []*Param{l.Weight, l.Bias, l.RunningMean, l.RunningVar, l.NumBatchesTracked}
}

// SetTraining switches between batch statistics (true) and running ones.
func (l *BatchNorm2d) SetTraining(training bool) { l.training = training }

// Training reports whether the layer uses batch statistics.
func (l *BatchNorm2d) Training() bool { return l.training }

// Forward normalises x, [N, H, W, C].
func (l *BatchNorm2d) Forward(x *tensor.Tensor) *tensor.Tensor {
	l.addReLU = false
	return l.forward(x, nil)
}

// ForwardAddReLU returns max(0, bn(x) + res): the end of a residual block,
// in one pass over the map instead of three. Follow it with
// BackwardAddReLU, not Backward.
func (l *BatchNorm2d) ForwardAddReLU(x, res *tensor.Tensor) *tensor.Tensor {
	if !tensor.SameShape(x, res) {
		panic(fmt.Sprintf("nn: BatchNorm2d: ForwardAddReLU of %v and %v", x.Shape, res.Shape))
	}
	l.addReLU = true
	return l.forward(x, res.Contiguous())
}

// BackwardAddReLU takes dL/dy after ForwardAddReLU and returns dL/dx and
// dL/dres (the gradient masked by the ReLU, which the shortcut receives).
func (l *BatchNorm2d) BackwardAddReLU(dy *tensor.Tensor) (dx, dres *tensor.Tensor) {
	if !l.addReLU || l.y == nil || !tensor.SameShape(dy, l.y) {
		panic("nn: BatchNorm2d: BackwardAddReLU without a matching ForwardAddReLU")
	}
	if l.dress != nil {
		dres = l.dress.View(dy.Shape...)
	} else {
		dres = tensor.Ensure(&l.dres, dy.Shape...)
	}
	g, y, o := dy.Contiguous().Values(), l.y.Values(), dres.Values()
	tensor.Parallel(len(o), 1<<14, func(lo, hi int) {
		tensor.MaskPositive(o[lo:hi], g[lo:hi], y[lo:hi])
	})
	return l.backward(dres, false, false), dres
}

func (l *BatchNorm2d) forward(x, res *tensor.Tensor) *tensor.Tensor {
	c := l.Weight.Value.Len()
	if x.Dims() < 2 || x.Dim(-1) != c {
		panic(fmt.Sprintf("nn: BatchNorm2d: input shape %v, want [N, H, W, %d]", x.Shape, c))
	}
	x = x.Contiguous()
	l.x = x
	xv := x.Values()
	rows := len(xv) / c
	l.mean, l.invstd = ensureBuf(&l.mean, c), ensureBuf(&l.invstd, c)
	l.batchStats = l.training
	if l.training {
		if rows < 2 {
			panic(fmt.Sprintf("nn: BatchNorm2d: expected more than 1 value per channel when training, got input %v", x.Shape))
		}
		l.batchMoments(xv, rows, c)
		m := l.Momentum
		unbiased := float64(rows) / float64(rows-1)
		rm, rv := l.RunningMean.Value.Values(), l.RunningVar.Value.Values()
		for j := range c {
			v := l.invstd[j] // still the biased variance
			l.invstd[j] = 1 / math.Sqrt(v+l.Eps)
			rm[j] = float32((1-m)*float64(rm[j]) + m*l.mean[j])
			rv[j] = float32((1-m)*float64(rv[j]) + m*v*unbiased)
		}
		l.NumBatchesTracked.Value.Data[0]++
	} else {
		rm, rv := l.RunningMean.Value.Values(), l.RunningVar.Value.Values()
		for j := range c {
			l.mean[j] = float64(rm[j])
			l.invstd[j] = 1 / math.Sqrt(float64(rv[j])+l.Eps)
		}
	}
	// y = x*scale + shift, scale = w*invstd, shift = b - mean*scale, as
	// PyTorch's CPU kernel computes it.
	w, b := l.Weight.Value.Values(), l.Bias.Value.Values()
	l.scale, l.shift = ensureBuf(&l.scale, c), ensureBuf(&l.shift, c)
	for j := range c {
		s := float64(w[j]) * l.invstd[j]
		l.scale[j] = float32(s)
		l.shift[j] = float32(float64(b[j]) - l.mean[j]*s)
	}
	y := tensor.Ensure(&l.y, x.Shape...)
	var rv []float32
	if res != nil {
		rv = res.Values()
	}
	yv, relu := y.Values(), l.ReLU || res != nil
	tensor.Parallel(rows, max(1, 4096/c), func(lo, hi int) {
		var r []float32
		if rv != nil {
			r = rv[lo*c : hi*c]
		}
		tensor.ChannelScaleShift(yv[lo*c:hi*c], xv[lo*c:hi*c], r, l.scale, l.shift, relu)
	})
	return y
}

// batchMoments sets l.mean to the column means of the rows×c matrix x and
// l.invstd to the biased variances: two passes (mean, then centred squares)
// with float64 partials per thread.
func (l *BatchNorm2d) batchMoments(x []float32, rows, c int) {
	part := ensureBuf(&l.part, 2*tensor.Threads()*c)
	// The first pass is centred on the first row, so its float32 partial
	// sums add small differences, not values far from zero.
	l.centre, l.mean32 = ensureBuf(&l.centre, c), ensureBuf(&l.mean32, c)
	copy(l.centre, x[:c])
	moments := func(mean []float32) int {
		return parallelChunks(rows, func(i, lo, hi int) {
			s, q := part[2*i*c:(2*i+1)*c], part[(2*i+1)*c:(2*i+2)*c]
			clear(s)
			clear(q)
			tensor.ChannelMoments(x[lo*c:hi*c], mean, s, q)
		})
	}
	k := moments(l.centre)
	for j := range c {
		var t float64
		for i := range k {
			t += part[2*i*c+j]
		}
		l.mean[j] = float64(l.centre[j]) + t/float64(rows)
		l.mean32[j] = float32(l.mean[j])
	}
	k = moments(l.mean32)
	for j := range c {
		// The second pass is centred on m32, not m: with s = Σ(x-m32) =
		// n(m-m32), Σ(x-m)² = Σ(x-m32)² - s²/n exactly.
		var s, q float64
		for i := range k {
			s += part[2*i*c+j]
			q += part[(2*i+1)*c+j]
		}
		n := float64(rows)
		l.invstd[j] = max(0, q-s*s/n) / n
	}
}

// Backward adds the weight and bias gradients and returns dL/dx. After a
// training-mode Forward the gradient flows through the batch statistics.
func (l *BatchNorm2d) Backward(dy *tensor.Tensor) *tensor.Tensor {
	if l.addReLU {
		panic("nn: BatchNorm2d: Backward after ForwardAddReLU; use BackwardAddReLU")
	}
	return l.backward(dy, l.ReLU, false)
}

// ShareGrads makes Backward return dL/dx in a view of dx and
// BackwardAddReLU its dres in a view of dres (either may be nil: the
// layer's own buffer), shared with other layers: the caller guarantees
// that each is consumed before another layer sharing the arena runs its
// Backward.
func (l *BatchNorm2d) ShareGrads(dx, dres *tensor.Arena) { l.dxs, l.dress = dx, dres }

// BackwardInPlace is Backward with dL/dx written over dy, which it
// returns: for a caller that owns dy and needs it no more, it saves a
// map-sized buffer. (Each value of dx depends only on the same value of
// dy once the per-channel sums are known.)
func (l *BatchNorm2d) BackwardInPlace(dy *tensor.Tensor) *tensor.Tensor {
	if l.addReLU {
		panic("nn: BatchNorm2d: Backward after ForwardAddReLU; use BackwardAddReLU")
	}
	return l.backward(dy, l.ReLU, true)
}

// backward adds the parameter gradients for dy and returns dL/dx; with
// relu, dy is first masked by the output. With inPlace, dx is written
// over (a contiguous copy of) dy.
func (l *BatchNorm2d) backward(dy *tensor.Tensor, relu, inPlace bool) *tensor.Tensor {
	if l.x == nil || !tensor.SameShape(dy, l.y) {
		panic(fmt.Sprintf("nn: BatchNorm2d: Backward with dy %v after output %v", dy.Shape, shapeOrNil(l.y)))
	}
	dy = dy.Contiguous()
	c := len(l.mean)
	xv, dyv, yv := l.x.Values(), dy.Values(), l.y.Values()
	rows := len(xv) / c
	if !relu {
		yv = nil
	}
	if len(l.mean32) != c { // an eval-mode forward leaves it unset
		l.mean32 = ensureBuf(&l.mean32, c)
	}
	for j, m := range l.mean {
		l.mean32[j] = float32(m)
	}
	// Per channel: Σ dy and Σ dy*(x-mean), in float64.
	part := ensureBuf(&l.part, 2*tensor.Threads()*c)
	k := parallelChunks(rows, func(i, lo, hi int) {
		ps, pd := part[2*i*c:(2*i+1)*c], part[(2*i+1)*c:(2*i+2)*c]
		clear(ps)
		clear(pd)
		var ys []float32
		if yv != nil {
			ys = yv[lo*c : hi*c]
		}
		tensor.ChannelGradSums(dyv[lo*c:hi*c], xv[lo*c:hi*c], ys, l.mean32, ps, pd)
	})
	for i := 1; i < k; i++ {
		for j, v := range part[2*i*c : 2*(i+1)*c] {
			part[j] += v
		}
	}
	sdy, sdyx := part[:c], part[c:2*c]
	// The sums were centred on the float32 mean; move Σdy(x-mean) to the
	// float64 one: Σdy(x-m) = Σdy(x-m32) - (m-m32)Σdy.
	for j := range c {
		sdyx[j] -= (l.mean[j] - float64(l.mean32[j])) * sdy[j]
	}
	gw, gb, w := l.Weight.Grad.Values(), l.Bias.Grad.Values(), l.Weight.Value.Values()
	// dx = a*dy + b*(x-mean) + d per channel. With batch statistics,
	// dx = w*invstd*(dy - Σdy/n - (x-mean)*invstd²*Σdy(x-mean)/n); x-mean
	// is formed per element, which keeps the precision when |mean| >> std.
	coef := ensureBuf(&l.coef, 4*c)
	a, b, d, mu := coef[:c], coef[c:2*c], coef[3*c:], coef[2*c:3*c]
	n := float64(rows)
	for j := range c {
		gw[j] += float32(sdyx[j] * l.invstd[j])
		gb[j] += float32(sdy[j])
		aj := float64(w[j]) * l.invstd[j]
		a[j], b[j], d[j], mu[j] = float32(aj), 0, 0, l.mean32[j]
		if l.batchStats {
			// dx = a*dy + bj*(x-m) + dj = a*dy + bj*(x-m32) + (dj - bj*(m-m32))
			bj := -aj * l.invstd[j] * l.invstd[j] * sdyx[j] / n
			b[j] = float32(bj)
			d[j] = float32(-aj*sdy[j]/n - bj*(l.mean[j]-float64(l.mean32[j])))
		}
	}
	dx := dy
	switch {
	case inPlace:
	case l.dxs != nil:
		dx = l.dxs.View(l.x.Shape...)
	default:
		dx = tensor.Ensure(&l.dx, l.x.Shape...)
	}
	dxv := dx.Values()
	tensor.Parallel(rows, max(1, 4096/c), func(lo, hi int) {
		var ys []float32
		if yv != nil {
			ys = yv[lo*c : hi*c]
		}
		tensor.ChannelAffine(dxv[lo*c:hi*c], dyv[lo*c:hi*c], xv[lo*c:hi*c], ys, coef)
	})
	return dx
}

// GroupNorm normalises each sample's channels in Groups groups of C/Groups
// channels over [H, W] and the group's channels, then applies a
// per-channel scale and shift, as PyTorch's nn.GroupNorm (affine, eps
// 1e-5). Unlike BatchNorm it behaves the same in training and evaluation
// and each sample is normalised on its own, so per-sample gradients are
// well defined (it implements PerSampler).
type GroupNorm struct {
	Weight, Bias *Param // [C], initialised to 1 and 0
	Groups       int
	Eps          float64
	// ReLU fuses a ReLU into the layer, as BatchNorm2d's ReLU does, so a
	// network can swap one normalisation for the other unchanged.
	ReLU    bool
	addReLU bool // the last forward was ForwardAddReLU

	x, dy      *tensor.Tensor
	y, dx      *tensor.Tensor
	dmask      *tensor.Tensor // dy masked by a fused ReLU
	mean, rstd []float64      // [N, Groups]
	perN       []float64      // per sample, 3*C: scale and shift in Forward, sums and coefficients in Backward
	gw, gb     []float64      // per-sample weight and bias gradients, [N, C]
}

// NewGroupNorm returns a group normalisation of c channels in groups groups.
func NewGroupNorm(groups, c int) *GroupNorm {
	if groups <= 0 || c <= 0 || c%groups != 0 {
		panic(fmt.Sprintf("nn: NewGroupNorm: %d channels in %d groups", c, groups))
	}
	l := &GroupNorm{
		Weight: NewParam("weight", tensor.Full(1, c)),
		Bias:   NewParam("bias", tensor.New(c)),
		Groups: groups,
		Eps:    1e-5,
	}
	l.Weight.NoDecay, l.Bias.NoDecay = true, true
	return l
}

// Params returns weight and bias.
func (l *GroupNorm) Params() []*Param { return []*Param{l.Weight, l.Bias} }

// Forward normalises x, [N, H, W, C] (any [N, ..., C] works alike).
func (l *GroupNorm) Forward(x *tensor.Tensor) *tensor.Tensor {
	l.addReLU = false
	return l.forward(x, nil, l.ReLU)
}

// ForwardAddReLU returns max(0, gn(x) + res), the end of a residual block,
// as BatchNorm2d.ForwardAddReLU does. Follow it with BackwardAddReLU.
func (l *GroupNorm) ForwardAddReLU(x, res *tensor.Tensor) *tensor.Tensor {
	if !tensor.SameShape(x, res) {
		panic(fmt.Sprintf("nn: GroupNorm: ForwardAddReLU of %v and %v", x.Shape, res.Shape))
	}
	l.addReLU = true
	return l.forward(x, res.Contiguous(), true)
}

// BackwardAddReLU takes dL/dy after ForwardAddReLU and returns dL/dx and
// dL/dres (the gradient masked by the ReLU, which the shortcut receives).
func (l *GroupNorm) BackwardAddReLU(dy *tensor.Tensor) (dx, dres *tensor.Tensor) {
	if !l.addReLU || l.y == nil || !tensor.SameShape(dy, l.y) {
		panic("nn: GroupNorm: BackwardAddReLU without a matching ForwardAddReLU")
	}
	dres = l.masked(dy)
	return l.backward(dres), dres
}

// masked returns dy with zeros where the fused ReLU's output is 0.
func (l *GroupNorm) masked(dy *tensor.Tensor) *tensor.Tensor {
	m := tensor.Ensure(&l.dmask, dy.Shape...)
	g, y, o := dy.Contiguous().Values(), l.y.Values(), m.Values()
	tensor.Parallel(len(o), 1<<14, func(lo, hi int) {
		tensor.MaskPositive(o[lo:hi], g[lo:hi], y[lo:hi])
	})
	return m
}

// forward normalises x, adds res when it is not nil and clamps at 0 when
// relu is set.
func (l *GroupNorm) forward(x, res *tensor.Tensor, relu bool) *tensor.Tensor {
	c := l.Weight.Value.Len()
	if x.Dims() < 2 || x.Dim(-1) != c {
		panic(fmt.Sprintf("nn: GroupNorm: input shape %v, want [N, H, W, %d]", x.Shape, c))
	}
	x = x.Contiguous()
	l.x, l.dy = x, nil
	n := x.Dim(0)
	xv := x.Values()
	per := len(xv) / n // values per sample
	G, cg := l.Groups, c/l.Groups
	m := float64(per / c * cg) // values per group
	l.mean, l.rstd = ensureBuf(&l.mean, n*G), ensureBuf(&l.rstd, n*G)
	perN := ensureBuf(&l.perN, n*3*c)
	w, b := l.Weight.Value.Values(), l.Bias.Value.Values()
	y := tensor.Ensure(&l.y, x.Shape...)
	yv := y.Values()
	var rv []float32 // the residual, if any
	if res != nil {
		rv = res.Values()
	}
	tensor.Parallel(n, 1, func(lo, hi int) {
		for s := lo; s < hi; s++ {
			xs, ys := xv[s*per:(s+1)*per], yv[s*per:(s+1)*per]
			acc := perN[s*3*c : (s*3+1)*c] // channel sums, then centred squares
			mean, rstd := l.mean[s*G:(s+1)*G], l.rstd[s*G:(s+1)*G]
			clear(acc)
			for i := 0; i < per; i += c {
				for j, v := range xs[i : i+c] {
					acc[j] += float64(v)
				}
			}
			for g := range G {
				mean[g] = sumF64(acc[g*cg:(g+1)*cg]) / m
			}
			clear(acc)
			for i := 0; i < per; i += c {
				for j, v := range xs[i : i+c] {
					d := float64(v) - mean[j/cg]
					acc[j] += d * d
				}
			}
			for g := range G {
				rstd[g] = 1 / math.Sqrt(sumF64(acc[g*cg:(g+1)*cg])/m+l.Eps)
			}
			scale := perN[(s*3+1)*c : (s*3+2)*c]
			shift := perN[(s*3+2)*c : (s+1)*3*c]
			for j := range c {
				sc := rstd[j/cg] * float64(w[j])
				scale[j], shift[j] = sc, float64(b[j])-mean[j/cg]*sc
			}
			for i := 0; i < per; i += c {
				yr := ys[i : i+c]
				for j, v := range xs[i : i+c] {
					yr[j] = float32(float64(v)*scale[j] + shift[j])
				}
				if rv != nil {
					for j, r := range rv[s*per+i : s*per+i+c] {
						yr[j] += r
					}
				}
				if relu {
					for j, v := range yr {
						yr[j] = max(v, 0)
					}
				}
			}
		}
	})
	return y
}

// Backward adds the weight and bias gradients and returns dL/dx. It keeps
// each sample's parameter gradients for AddPerSampleGradSq.
func (l *GroupNorm) Backward(dy *tensor.Tensor) *tensor.Tensor {
	if l.addReLU {
		panic("nn: GroupNorm: Backward after ForwardAddReLU; use BackwardAddReLU")
	}
	if l.ReLU && l.y != nil && tensor.SameShape(dy, l.y) {
		dy = l.masked(dy)
	}
	return l.backward(dy)
}

// BackwardInPlace is Backward: GroupNorm keeps dy for its per-sample
// gradients, so it cannot write over it. It is here so that GroupNorm
// and BatchNorm2d serve alike in a network.
func (l *GroupNorm) BackwardInPlace(dy *tensor.Tensor) *tensor.Tensor { return l.Backward(dy) }

// backward adds the parameter gradients for dy (already masked by any
// fused ReLU) and returns dL/dx.
func (l *GroupNorm) backward(dy *tensor.Tensor) *tensor.Tensor {
	if l.x == nil || !tensor.SameShape(dy, l.y) {
		panic(fmt.Sprintf("nn: GroupNorm: Backward with dy %v after output %v", dy.Shape, shapeOrNil(l.y)))
	}
	dy = dy.Contiguous()
	l.dy = dy
	c := l.Weight.Value.Len()
	n := l.x.Dim(0)
	xv, dyv := l.x.Values(), dy.Values()
	dx := tensor.Ensure(&l.dx, l.x.Shape...)
	dxv := dx.Values()
	per := len(xv) / n
	G, cg := l.Groups, c/l.Groups
	m := float64(per / c * cg)
	w := l.Weight.Value.Values()
	gw, gb := ensureBuf(&l.gw, n*c), ensureBuf(&l.gb, n*c)
	perN := ensureBuf(&l.perN, n*3*c)
	tensor.Parallel(n, 1, func(lo, hi int) {
		for s := lo; s < hi; s++ {
			xs, ds, o := xv[s*per:(s+1)*per], dyv[s*per:(s+1)*per], dxv[s*per:(s+1)*per]
			// Σ dy*x and Σ dy per channel, then turned in place into the
			// coefficients of dx = a*dy + b*x + d.
			a, b, d := perN[s*3*c:(s*3+1)*c], perN[(s*3+1)*c:(s*3+2)*c], perN[(s*3+2)*c:(s+1)*3*c]
			clear(a)
			clear(b)
			for i := 0; i < per; i += c {
				xr := xs[i : i+c]
				for j, v := range ds[i : i+c] {
					a[j] += float64(v) * float64(xr[j])
					b[j] += float64(v)
				}
			}
			// Per group: c2 = (Σw·dy·mean - Σw·dy·x)*rstd³/m and
			// c3 = -c2*mean - Σw·dy*rstd/m give dx = rstd*w*dy + c2*x + c3.
			for g := range G {
				mu, r := l.mean[s*G+g], l.rstd[s*G+g]
				var swd, swdx float64
				for j := g * cg; j < (g+1)*cg; j++ {
					swd += float64(w[j]) * b[j]
					swdx += float64(w[j]) * a[j]
					gw[s*c+j] = r * (a[j] - mu*b[j])
					gb[s*c+j] = b[j]
				}
				c2 := (swd*mu - swdx) * r * r * r / m
				c3 := -c2*mu - swd*r/m
				for j := g * cg; j < (g+1)*cg; j++ {
					a[j], b[j], d[j] = r*float64(w[j]), c2, c3
				}
			}
			for i := 0; i < per; i += c {
				xr, or := xs[i:i+c], o[i:i+c]
				for j, v := range ds[i : i+c] {
					or[j] = float32(a[j]*float64(v) + b[j]*float64(xr[j]) + d[j])
				}
			}
		}
	})
	gwv, gbv := l.Weight.Grad.Values(), l.Bias.Grad.Values()
	for j := range c {
		var sw, sb float64
		for s := range n {
			sw += gw[s*c+j]
			sb += gb[s*c+j]
		}
		gwv[j] += float32(sw)
		gbv[j] += float32(sb)
	}
	return dx
}

// AddPerSampleGradSq adds each sample's squared gradient norm (weight and
// bias) from the last Backward into sq: each sample's gradients are exact
// sums over its own pixels, kept by Backward.
func (l *GroupNorm) AddPerSampleGradSq(sq []float64) {
	if l.dy == nil {
		panic("nn: GroupNorm: AddPerSampleGradSq before Forward and Backward")
	}
	n, c := l.x.Dim(0), l.Weight.Value.Len()
	if len(sq) != n {
		panic(fmt.Sprintf("nn: GroupNorm: AddPerSampleGradSq with %d slots for batch %d", len(sq), n))
	}
	for s := range n {
		var t float64
		for j := s * c; j < (s+1)*c; j++ {
			t += l.gw[j]*l.gw[j] + l.gb[j]*l.gb[j]
		}
		sq[s] += t
	}
}

func sumF64(v []float64) float64 {
	var s float64
	for _, x := range v {
		s += x
	}
	return s
}
