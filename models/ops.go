package models

import (
	"fmt"
	"strconv"

	"github.com/deepscope/deepscope/tensor"
)

// The pieces the composite blocks need between layers: residual additions
// and channel concatenation, over contiguous values in parallel chunks.

const grain = 1 << 14 // elements per parallel chunk, large enough to amortise the hand-off

// addInto sets out = a + b: tensor.Add's vector kernel over parallel chunks.
func addInto(out, a, b *tensor.Tensor) {
	o, x, y := out.Values(), a.Values(), b.Values()
	if len(x) != len(o) || len(y) != len(o) {
		panic(fmt.Sprintf("models: add of %v and %v into %v", a.Shape, b.Shape, out.Shape))
	}
	tensor.Parallel(len(o), grain, func(lo, hi int) { tensor.Add(o[lo:hi], x[lo:hi], y[lo:hi]) })
}

// concatChannels sets out = [a | b] along the last (channel) axis of
// channels-last maps: out[..., :ca] = a, out[..., ca:] = b.
func concatChannels(out, a, b *tensor.Tensor) {
	ca, cb := a.Dim(-1), b.Dim(-1)
	x, y, o := a.Values(), b.Values(), out.Values()
	rows := len(x) / ca
	if len(y)/cb != rows || len(o) != rows*(ca+cb) {
		panic(fmt.Sprintf("models: concat %v and %v into %v", a.Shape, b.Shape, out.Shape))
	}
	tensor.Parallel(rows, 256, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			copy(o[r*(ca+cb):], x[r*ca:(r+1)*ca])
			copy(o[r*(ca+cb)+ca:], y[r*cb:(r+1)*cb])
		}
	})
}

// splitChannels is concatChannels' backward: da = d[..., :ca], db = d[..., ca:].
func splitChannels(da, db, d *tensor.Tensor) {
	ca, cb := da.Dim(-1), db.Dim(-1)
	x, y, g := da.Values(), db.Values(), d.Values()
	rows := len(x) / ca
	tensor.Parallel(rows, 256, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			copy(x[r*ca:(r+1)*ca], g[r*(ca+cb):])
			copy(y[r*cb:(r+1)*cb], g[r*(ca+cb)+ca:])
		}
	})
}

func itoa(i int) string { return strconv.Itoa(i) }
