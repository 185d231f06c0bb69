package tensor_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/deepscope/deepscope/tensor"
)

// channelCase is a rows×c matrix shape for the per-channel kernels: c a
// multiple of 8 (assembly) or not (Go), rows across sum-block edges.
var channelCases = []struct{ rows, c int }{
	{1, 8}, {3, 16}, {64, 64}, {65, 24}, {130, 64}, {7, 12}, {129, 3}, {2, 512},
}

// withAndWithoutAsm runs f with the assembly kernels on (where the CPU has
// them) and off.
func withAndWithoutAsm(t *testing.T, f func(t *testing.T)) {
	for _, asm := range []bool{true, false} {
		if asm && !tensor.HasAVX2() {
			continue
		}
		t.Run(fmt.Sprintf("asm=%v", asm), func(t *testing.T) {
			restore := tensor.UseAVX2(asm)
			defer restore()
			f(t)
		})
	}
}

// reluLike returns n values of which about a third are 0 or negative, as a
// ReLU's output and its pre-activation mix.
func reluLike(rng *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		switch rng.IntN(3) {
		case 0:
			v[i] = 0
		case 1:
			v[i] = -rng.Float32()
		default:
			v[i] = rng.Float32()
		}
	}
	return v
}

func randVec(rng *rand.Rand, n int, off float32) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = rng.Float32()*2 - 1 + off
	}
	return v
}

func sumNear(got, want, scale float64) bool { return math.Abs(got-want) <= 1e-5*(1+scale) }

func TestChannelSums(t *testing.T) {
	withAndWithoutAsm(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(1, 2))
		for _, tc := range channelCases {
			n := tc.rows * tc.c
			x, dy := randVec(rng, n, 3), randVec(rng, n, 0) // x off-centre, as BN inputs often are
			mean := randVec(rng, tc.c, 3)
			for _, y := range [][]float32{nil, reluLike(rng, n)} {
				sum, sq := make([]float64, tc.c), make([]float64, tc.c)
				s, sx := make([]float64, tc.c), make([]float64, tc.c)
				for j := range sum { // accumulators are added into, not overwritten
					sum[j], sq[j], s[j], sx[j] = 1, 2, 3, 4
				}
				tensor.ChannelMoments(x, mean, sum, sq)
				tensor.ChannelGradSums(dy, x, y, mean, s, sx)
				for j := 0; j < tc.c; j++ {
					wsum, wsq, ws, wsx := 1.0, 2.0, 3.0, 4.0
					for r := 0; r < tc.rows; r++ {
						i := r*tc.c + j
						d := float64(x[i]) - float64(mean[j])
						wsum += d
						wsq += d * d
						if y == nil || y[i] > 0 {
							ws += float64(dy[i])
							wsx += float64(dy[i]) * d
						}
					}
					scale := float64(tc.rows) * 4
					if !sumNear(sum[j], wsum, scale) || !sumNear(sq[j], wsq, scale*4) || !sumNear(s[j], ws, scale) || !sumNear(sx[j], wsx, scale) {
						t.Fatalf("%dx%d mask=%v channel %d: moments %g %g want %g %g; grad sums %g %g want %g %g",
							tc.rows, tc.c, y != nil, j, sum[j], sq[j], wsum, wsq, s[j], sx[j], ws, wsx)
					}
				}
			}
		}
	})
}

func TestChannelAffineAndScaleShift(t *testing.T) {
	withAndWithoutAsm(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(3, 4))
		for _, tc := range channelCases {
			n, c := tc.rows*tc.c, tc.c
			x, dy, res := randVec(rng, n, 1), randVec(rng, n, 0), randVec(rng, n, 0)
			coef := randVec(rng, 4*c, 0)
			scale, shift := coef[:c], coef[c:2*c]
			for _, y := range [][]float32{nil, reluLike(rng, n)} {
				oAll, o := vecGuarded(rng, n)
				tensor.ChannelAffine(o, dy, x, y, coef)
				if !vecGuardsIntact(oAll) {
					t.Fatalf("%dx%d: ChannelAffine wrote outside its output", tc.rows, c)
				}
				for i, got := range o {
					j := i % c
					g := dy[i]
					if y != nil && !(y[i] > 0) {
						g = 0
					}
					want := coef[j]*g + coef[c+j]*(x[i]-coef[2*c+j]) + coef[3*c+j]
					if !closeTo(got, want, 1e-5) {
						t.Fatalf("%dx%d mask=%v: ChannelAffine[%d] = %g, want %g", tc.rows, c, y != nil, i, got, want)
					}
				}
			}
			for _, r := range [][]float32{nil, res} {
				for _, relu := range []bool{false, true} {
					yAll, yv := vecGuarded(rng, n)
					tensor.ChannelScaleShift(yv, x, r, scale, shift, relu)
					if !vecGuardsIntact(yAll) {
						t.Fatalf("%dx%d: ChannelScaleShift wrote outside its output", tc.rows, c)
					}
					for i, got := range yv {
						want := x[i]*scale[i%c] + shift[i%c]
						if r != nil {
							want += r[i]
						}
						if relu {
							want = max(want, 0)
						}
						if !closeTo(got, want, 1e-5) {
							t.Fatalf("%dx%d res=%v relu=%v: ChannelScaleShift[%d] = %g, want %g", tc.rows, c, r != nil, relu, i, got, want)
						}
					}
				}
			}
		}
	})
}

func TestMaskPositive(t *testing.T) {
	withAndWithoutAsm(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(5, 6))
		for _, n := range []int{0, 1, 15, 16, 17, 100} {
			g, y := randVec(rng, n, 0), reluLike(rng, n)
			if n > 0 {
				y[0] = float32(math.NaN()) // NaN is not > 0: masked
			}
			dAll, d := vecGuarded(rng, n)
			tensor.MaskPositive(d, g, y)
			if !vecGuardsIntact(dAll) {
				t.Fatalf("n=%d: MaskPositive wrote outside its output", n)
			}
			for i := range d {
				want := float32(0)
				if y[i] > 0 {
					want = g[i]
				}
				if d[i] != want {
					t.Fatalf("n=%d: MaskPositive[%d] = %g, want %g (y %g)", n, i, d[i], want, y[i])
				}
			}
			tensor.MaskPositive(g, g, y) // in place
			for i := range g {
				if g[i] != d[i] {
					t.Fatalf("n=%d: in-place MaskPositive differs at %d", n, i)
				}
			}
		}
	})
}

func TestChannelScaleShiftPassesNaN(t *testing.T) {
	withAndWithoutAsm(t, func(t *testing.T) {
		x := make([]float32, 16)
		x[3] = float32(math.NaN())
		y := make([]float32, 16)
		tensor.ChannelScaleShift(y, x, nil, tensor.Full(1, 8).Values(), make([]float32, 8), true)
		if !math.IsNaN(float64(y[3])) {
			t.Errorf("ReLU of NaN gave %g; a NaN must reach the loss so training can stop on it", y[3])
		}
	})
}
