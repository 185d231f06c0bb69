package tensor

import "fmt"

// Per-channel kernels for channels-last maps: a map [N, H, W, C] is read as
// a matrix of rows of C values, and every kernel here works column by
// column (channel by channel). They are what batch normalisation is made
// of: moments forward, gradient sums and one affine pass backward. They run
// on the calling goroutine; callers split rows across threads.
//
// Sums are formed in float32 over blocks of at most sumBlock rows and added
// into float64 accumulators: vector-fast, and as precise as summing every
// value in float64 to within a few float32 roundings of a block's sum.

// sumBlock is the number of rows a float32 partial sum spans.
const sumBlock = 64

// ChannelMoments adds, for each channel j of x (rows of c = len(mean)
// values), the sum of x-mean[j] into sum[j] and the sum of its square into
// sq[j]. With mean zero it gives plain sums; with the batch mean, the
// centred second moment of a two-pass variance.
//
//	for r := 0; r < len(x)/c; r++ {
//		for j := 0; j < c; j++ {
//			d := x[r*c+j] - mean[j]
//			sum[j] += d
//			sq[j] += d * d
//		}
//	}
func ChannelMoments(x, mean []float32, sum, sq []float64) {
	c := len(mean)
	checkChannels("ChannelMoments", c, len(x), len(sum), len(sq))
	rows := len(x) / c
	for r := 0; r < rows; r += sumBlock {
		n := min(sumBlock, rows-r)
		block := x[r*c : (r+n)*c]
		if useAVX2 && c%8 == 0 {
			channelMomentsAVX2(block, n, c, mean, sum, sq)
		} else {
			channelMomentsGo(block, n, c, mean, sum, sq)
		}
	}
}

// ChannelGradSums adds, for each channel j, the sum of m*dy into s[j] and
// the sum of m*dy*(x-mean[j]) into sx[j], where m is 1, or, when y is not
// nil, 1 where y > 0 and 0 elsewhere (the mask of a ReLU whose output is
// y). dy, x and y (if given) are rows of c = len(mean) values.
//
//	for i := range dy {
//		j := i % c
//		if y == nil || y[i] > 0 {
//			s[j] += dy[i]
//			sx[j] += dy[i] * (x[i] - mean[j])
//		}
//	}
func ChannelGradSums(dy, x, y, mean []float32, s, sx []float64) {
	c := len(mean)
	checkChannels("ChannelGradSums", c, len(dy), len(s), len(sx))
	if len(x) != len(dy) || (y != nil && len(y) != len(dy)) {
		panic(fmt.Sprintf("tensor: ChannelGradSums lengths dy %d, x %d, y %d", len(dy), len(x), len(y)))
	}
	rows := len(dy) / c
	for r := 0; r < rows; r += sumBlock {
		n := min(sumBlock, rows-r)
		lo, hi := r*c, (r+n)*c
		var yb []float32
		if y != nil {
			yb = y[lo:hi]
		}
		if useAVX2 && c%8 == 0 {
			channelGradSumsAVX2(dy[lo:hi], x[lo:hi], yb, n, c, mean, s, sx)
		} else {
			channelGradSumsGo(dy[lo:hi], x[lo:hi], yb, n, c, mean, s, sx)
		}
	}
}

// ChannelAffine sets o = a[j]*(m*dy) + b[j]*(x-mu[j]) + d[j] for every
// value of channel j, with m as in ChannelGradSums (y nil: m = 1). It is
// batch normalisation's input gradient once its per-channel coefficients
// are known. coef holds a, b, mu and d one after the other, c values each.
//
//	for i := range o {
//		j := i % c
//		g := dy[i]
//		if y != nil && !(y[i] > 0) { g = 0 }
//		o[i] = a[j]*g + b[j]*(x[i]-mu[j]) + d[j]
//	}
func ChannelAffine(o, dy, x, y, coef []float32) {
	c := len(coef) / 4
	if len(coef) != 4*c {
		panic(fmt.Sprintf("tensor: ChannelAffine with %d coefficients, want 4 per channel", len(coef)))
	}
	checkChannels("ChannelAffine", c, len(o), 0, 0)
	if len(dy) != len(o) || len(x) != len(o) || (y != nil && len(y) != len(o)) {
		panic(fmt.Sprintf("tensor: ChannelAffine lengths o %d, dy %d, x %d, y %d", len(o), len(dy), len(x), len(y)))
	}
	if useAVX2 && c%8 == 0 {
		channelAffineAVX2(o, dy, x, y, len(o)/c, c, coef)
		return
	}
	channelAffineGo(o, dy, x, y, len(o)/c, c, coef)
}

// ChannelScaleShift sets y = x*scale[j] + shift[j] for every value of
// channel j, adds res where res is not nil, and clamps at 0 when relu is
// set: batch normalisation's output, with an optional residual add and
// ReLU in the same pass. x, y and res are rows of len(scale) values.
//
//	for i := range y {
//		j := i % c
//		v := x[i]*scale[j] + shift[j]
//		if res != nil { v += res[i] }
//		if relu { v = max(v, 0) }
//		y[i] = v
//	}
func ChannelScaleShift(y, x, res, scale, shift []float32, relu bool) {
	c := len(scale)
	checkChannels("ChannelScaleShift", c, len(x), len(shift), 0)
	if len(y) != len(x) || (res != nil && len(res) != len(x)) {
		panic(fmt.Sprintf("tensor: ChannelScaleShift lengths y %d, x %d, res %d", len(y), len(x), len(res)))
	}
	flags := 0
	if relu {
		flags = 1
	}
	if useAVX2 && c%8 == 0 {
		channelScaleShiftAVX2(y, x, res, len(x)/c, c, scale, shift, flags)
		return
	}
	channelScaleShiftGo(y, x, res, len(x)/c, c, scale, shift, flags)
}

// MaskPositive sets dst[i] to g[i] where y[i] > 0 and to 0 elsewhere: the
// gradient through a ReLU whose output was y. dst may be g.
//
//	for i := range dst { if y[i] > 0 { dst[i] = g[i] } else { dst[i] = 0 } }
func MaskPositive(dst, g, y []float32) {
	if len(g) != len(dst) || len(y) != len(dst) {
		panic(fmt.Sprintf("tensor: MaskPositive lengths %d, %d and %d", len(dst), len(g), len(y)))
	}
	if useAVX2 {
		maskPositiveAVX2(dst, g, y)
		return
	}
	maskPositiveGo(dst, g, y)
}

// checkChannels panics unless n values are whole rows of c channels and
// the per-channel slices a and b (when not 0) hold c values.
func checkChannels(op string, c, n, a, b int) {
	if c <= 0 || n%c != 0 || (a != 0 && a != c) || (b != 0 && b != c) {
		panic(fmt.Sprintf("tensor: %s of %d values in rows of %d channels, per-channel lengths %d and %d", op, n, c, a, b))
	}
}

// channelMomentsGo is the pure-Go twin of channelMomentsAVX2: the sums of
// rows rows of x, partial in float32, added into sum and sq.
func channelMomentsGo(x []float32, rows, c int, mean []float32, sum, sq []float64) {
	for j := 0; j < c; j++ {
		var s, q float32
		for r := 0; r < rows; r++ {
			d := x[r*c+j] - mean[j]
			s += d
			q += d * d
		}
		sum[j] += float64(s)
		sq[j] += float64(q)
	}
}

// channelGradSumsGo is the pure-Go twin of channelGradSumsAVX2.
func channelGradSumsGo(dy, x, y []float32, rows, c int, mean []float32, s, sx []float64) {
	for j := 0; j < c; j++ {
		var a, b float32
		for r := 0; r < rows; r++ {
			i := r*c + j
			if y != nil && !(y[i] > 0) {
				continue
			}
			a += dy[i]
			b += dy[i] * (x[i] - mean[j])
		}
		s[j] += float64(a)
		sx[j] += float64(b)
	}
}

// channelAffineGo is the pure-Go twin of channelAffineAVX2.
func channelAffineGo(o, dy, x, y []float32, rows, c int, coef []float32) {
	a, b, mu, d := coef[:c], coef[c:2*c], coef[2*c:3*c], coef[3*c:4*c]
	for r := 0; r < rows; r++ {
		or, gr, xr := o[r*c:(r+1)*c], dy[r*c:(r+1)*c], x[r*c:(r+1)*c]
		for j := range or {
			g := gr[j]
			if y != nil && !(y[r*c+j] > 0) {
				g = 0
			}
			or[j] = a[j]*g + b[j]*(xr[j]-mu[j]) + d[j]
		}
	}
}

// channelScaleShiftGo is the pure-Go twin of channelScaleShiftAVX2; bit 0
// of flags asks for the ReLU.
func channelScaleShiftGo(y, x, res []float32, rows, c int, scale, shift []float32, flags int) {
	for r := 0; r < rows; r++ {
		yr, xr := y[r*c:(r+1)*c], x[r*c:(r+1)*c]
		for j := range yr {
			v := xr[j]*scale[j] + shift[j]
			if res != nil {
				v += res[r*c+j]
			}
			if flags&1 != 0 {
				v = max(v, 0)
			}
			yr[j] = v
		}
	}
}

// maskPositiveGo is the pure-Go twin of maskPositiveAVX2.
func maskPositiveGo(dst, g, y []float32) {
	g, y = g[:len(dst)], y[:len(dst)]
	for i := range dst {
		if y[i] > 0 {
			dst[i] = g[i]
		} else {
			dst[i] = 0
		}
	}
}
