package tensor

import "fmt"

// ConvGeom is the geometry of a 2-D convolution over a channels-last batch
// [N, H, W, C]: a KH×KW kernel moved by strides SH, SW over the input padded
// with PH, PW zeros on each side. Output pixels are numbered row-major over
// [N, OutH, OutW]; "row" r below is output pixel r.
type ConvGeom struct {
	N, H, W, C int // input batch, height, width and channels (the pixel stride)
	KH, KW     int // kernel size
	SH, SW     int // strides, at least 1
	PH, PW     int // zero padding on each side
}

// OutH returns the output height, (H + 2*PH - KH)/SH + 1.
func (g ConvGeom) OutH() int { return (g.H+2*g.PH-g.KH)/g.SH + 1 }

// OutW returns the output width, (W + 2*PW - KW)/SW + 1.
func (g ConvGeom) OutW() int { return (g.W+2*g.PW-g.KW)/g.SW + 1 }

// Rows returns the number of output pixels, N*OutH*OutW.
func (g ConvGeom) Rows() int { return g.N * g.OutH() * g.OutW() }

func (g ConvGeom) check(what string, c0, cn, row0, rows int) {
	switch {
	case g.N < 0 || g.H <= 0 || g.W <= 0 || g.C <= 0 || g.KH <= 0 || g.KW <= 0 || g.SH <= 0 || g.SW <= 0 || g.PH < 0 || g.PW < 0:
		panic(fmt.Sprintf("tensor: %s: bad geometry %+v", what, g))
	case g.H+2*g.PH < g.KH || g.W+2*g.PW < g.KW:
		panic(fmt.Sprintf("tensor: %s: padded input %dx%d smaller than kernel %dx%d", what, g.H+2*g.PH, g.W+2*g.PW, g.KH, g.KW))
	case c0 < 0 || cn <= 0 || c0+cn > g.C:
		panic(fmt.Sprintf("tensor: %s: channels [%d,%d) outside [0,%d)", what, c0, c0+cn, g.C))
	case row0 < 0 || rows < 0 || row0+rows > g.Rows():
		panic(fmt.Sprintf("tensor: %s: rows [%d,%d) outside [0,%d)", what, row0, row0+rows, g.Rows()))
	}
}

// Im2col lowers output pixels row0 .. row0+rows-1 of a convolution to rows
// of a matrix: col is rows × (KH*KW*cn), and row r holds, for each kernel
// position (kh, kw) in row-major order, the cn input channels c0 .. c0+cn-1
// under that position (zeros where it falls in the padding). x is the whole
// batch, N*H*W*C values. Multiplying col by a weight laid out
// [out, KH, KW, cn] (transposed) gives the convolution.
func Im2col(g ConvGeom, x []float32, c0, cn, row0, rows int, col []float32) {
	g.check("Im2col", c0, cn, row0, rows)
	width := g.KH * g.KW * cn
	if len(x) < g.N*g.H*g.W*g.C || len(col) < rows*width {
		panic(fmt.Sprintf("tensor: Im2col: x has %d values (want %d), col %d (want %d)", len(x), g.N*g.H*g.W*g.C, len(col), rows*width))
	}
	Parallel(rows, max(1, 8192/width), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			im2colRow(g, x, c0, cn, row0+r, col[r*width:(r+1)*width])
		}
	})
}

// im2colRow fills dst, one row of the lowered matrix, for output pixel r.
func im2colRow(g ConvGeom, x []float32, c0, cn, r int, dst []float32) {
	oh, ow := g.OutH(), g.OutW()
	n, p := r/(oh*ow), r%(oh*ow)
	y0, x0 := (p/ow)*g.SH-g.PH, (p%ow)*g.SW-g.PW
	run := g.KW * cn
	// With all channels and the whole kernel row inside the image, the KW
	// pixels of a kernel row are one contiguous run of KW*C values.
	whole := cn == g.C && x0 >= 0 && x0+g.KW <= g.W
	for kh := 0; kh < g.KH; kh++ {
		d := dst[kh*run : (kh+1)*run]
		ih := y0 + kh
		if ih < 0 || ih >= g.H {
			clear(d)
			continue
		}
		base := (n*g.H + ih) * g.W
		if whole {
			copy(d, x[(base+x0)*g.C:])
			continue
		}
		for kw := 0; kw < g.KW; kw++ {
			dd := d[kw*cn : (kw+1)*cn]
			iw := x0 + kw
			if iw < 0 || iw >= g.W {
				clear(dd)
				continue
			}
			copy(dd, x[(base+iw)*g.C+c0:])
		}
	}
}

// Col2im is the adjoint of Im2col: it adds each value of col (rows ×
// (KH*KW*cn), for output pixels row0 .. row0+rows-1) into channel c0+c of
// the input pixel it was copied from, dropping the values that came from the
// padding. dx is the whole batch, N*H*W*C values. It gathers per input pixel,
// so the work is spread over input rows without write conflicts.
func Col2im(g ConvGeom, col []float32, c0, cn, row0, rows int, dx []float32) {
	g.check("Col2im", c0, cn, row0, rows)
	width := g.KH * g.KW * cn
	if len(dx) < g.N*g.H*g.W*g.C || len(col) < rows*width {
		panic(fmt.Sprintf("tensor: Col2im: dx has %d values (want %d), col %d (want %d)", len(dx), g.N*g.H*g.W*g.C, len(col), rows*width))
	}
	if rows == 0 {
		return
	}
	oh, ow := g.OutH(), g.OutW()
	per := oh * ow
	first, last := row0, row0+rows-1
	n0, n1 := first/per, last/per
	// Input rows (n, ih) that the chunk reaches: a partial range in the
	// first and last image, every row of the images between.
	ihLo := func(oy int) int { return max(0, oy*g.SH-g.PH) }
	ihHi := func(oy int) int { return min(g.H-1, oy*g.SH-g.PH+g.KH-1) }
	a0, b0 := ihLo((first%per)/ow), g.H-1
	a1, b1 := 0, ihHi((last%per)/ow)
	if n0 == n1 {
		b0 = b1
	}
	len0 := max(0, b0-a0+1)
	mid := 0
	if n1 > n0 {
		mid = (n1 - n0 - 1) * g.H
	}
	total := len0 + mid
	if n1 > n0 {
		total += max(0, b1-a1+1)
	}
	Parallel(total, max(1, 4096/(g.W*cn)), func(lo, hi int) {
		for u := lo; u < hi; u++ {
			var n, ih int
			switch v := u; {
			case v < len0:
				n, ih = n0, a0+v
			case v < len0+mid:
				v -= len0
				n, ih = n0+1+v/g.H, v%g.H
			default:
				n, ih = n1, a1+v-len0-mid
			}
			col2imRow(g, col, c0, cn, row0, rows, n, ih, dx)
		}
	})
}

// col2imRow gathers into input row ih of image n every value of the chunk
// that came from it: for each input pixel, the runs of the kernel
// positions that cover it are summed into it in one pass (addRuns).
func col2imRow(g ConvGeom, col []float32, c0, cn, row0, rows, n, ih int, dx []float32) {
	oh, ow := g.OutH(), g.OutW()
	width := g.KH * g.KW * cn
	var offs [maxRuns]int
	for iw := 0; iw < g.W; iw++ {
		o := ((n*g.H+ih)*g.W+iw)*g.C + c0
		d := dx[o : o+cn]
		runs := offs[:0]
		for kh := 0; kh < g.KH; kh++ {
			t := ih + g.PH - kh
			if t < 0 {
				break
			}
			if t%g.SH != 0 || t/g.SH >= oh {
				continue
			}
			rbase := (n*oh+t/g.SH)*ow - row0
			for kw := 0; kw < g.KW; kw++ {
				s := iw + g.PW - kw
				if s < 0 {
					break
				}
				if s%g.SW != 0 || s/g.SW >= ow {
					continue
				}
				r := rbase + s/g.SW
				if r < 0 || r >= rows {
					continue
				}
				if len(runs) == maxRuns {
					addRuns(d, col, runs)
					runs = runs[:0]
				}
				runs = append(runs, r*width+(kh*g.KW+kw)*cn)
			}
		}
		addRuns(d, col, runs)
	}
}

// maxRuns is how many runs addRuns sums in one call: a 3x3 kernel's nine
// fit, larger kernels take several calls.
const maxRuns = 16

// addRuns adds to d the len(d) values of col at each offset of offs.
//
//	for _, k := range offs { for i := range d { d[i] += col[k+i] } }
func addRuns(d, col []float32, offs []int) {
	if len(offs) == 0 {
		return
	}
	if useAVX2 && len(d)%8 == 0 {
		addRunsAVX2(d, col, offs)
		return
	}
	addRunsGo(d, col, offs)
}

// addRunsGo is the pure-Go twin of addRunsAVX2.
func addRunsGo(d, col []float32, offs []int) {
	for _, k := range offs {
		for i, v := range col[k : k+len(d)] {
			d[i] += v
		}
	}
}
