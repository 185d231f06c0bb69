package data

import (
	"fmt"

	"github.com/deepscope/deepscope/tensor"
)

// fill builds batch k of epoch e into slot s.
func (l *Loader) fill(s *slot, w *worker, e, k int) error {
	bs := l.cfg.BatchSize
	lo, hi := k*bs, min((k+1)*bs, len(l.order))
	b := &s.batch
	b.Epoch, b.Index = e, k
	b.Labels, b.Indices = b.Labels[:0], b.Indices[:0]
	p := 0
	for _, idx := range l.order[lo:hi] {
		img, err := l.sample(idx, w)
		if err != nil {
			if l.cfg.OnBad == OnBadSkip {
				l.markBad(idx, err)
				continue
			}
			return err
		}
		if l.cfg.Transform != nil {
			SampleRand(w.pcg, l.cfg.Seed, e, idx)
			img = l.cfg.Transform.Apply(img, w.rng)
		}
		if err := l.place(s, p, img, idx); err != nil {
			return err
		}
		p++
		b.Indices = append(b.Indices, idx)
		b.Labels = append(b.Labels, l.ds.Items[idx].Label)
	}
	sh := l.shape
	s.x = viewOf(&s.x, s.buf[:p*sh[0]*sh[1]*sh[2]], p, sh[0], sh[1], sh[2])
	b.X = &s.x
	b.Targets = nil
	if l.ds.MultiLabel {
		nc := len(l.ds.Classes)
		if cap(s.tbuf) < bs*nc {
			s.tbuf = make([]float32, bs*nc)
		}
		t := s.tbuf[:p*nc]
		for j, idx := range b.Indices {
			copy(t[j*nc:(j+1)*nc], l.ds.Items[idx].Labels)
		}
		s.t = viewOf(&s.t, t, p, nc)
		b.Targets = &s.t
	}
	return nil
}

// viewOf reshapes the tensor header t over data without allocating once
// its slices have room.
func viewOf(t *tensor.Tensor, data []float32, shape ...int) tensor.Tensor {
	v := *t
	v.Shape = append(v.Shape[:0], shape...)
	v.Strides = v.Strides[:0]
	for range shape {
		v.Strides = append(v.Strides, 0)
	}
	acc := 1
	for i := len(shape) - 1; i >= 0; i-- {
		v.Strides[i] = acc
		acc *= shape[i]
	}
	v.Offset, v.Data = 0, data
	return v
}

// place normalises img into position p of slot s's batch buffer.
func (l *Loader) place(s *slot, p int, img *tensor.Tensor, idx int) error {
	if img.Dims() != 3 {
		return fmt.Errorf("data: %s: transform returned shape %v, want [H, W, C]", l.ds.Name(idx), img.Shape)
	}
	img = img.Contiguous()
	sh := [3]int{img.Shape[0], img.Shape[1], img.Shape[2]}
	l.shapeMu.Lock()
	if l.shape == [3]int{} {
		l.shape = sh
	}
	want := l.shape
	l.shapeMu.Unlock()
	if sh != want {
		return fmt.Errorf("data: %s: image is %dx%dx%d after preprocessing, others are %dx%dx%d (set Preprocess.Size and Channels)",
			l.ds.Name(idx), sh[0], sh[1], sh[2], want[0], want[1], want[2])
	}
	c := sh[2]
	if len(l.scale) != 0 && len(l.scale) != c {
		return fmt.Errorf("data: normalize has %d channels, images have %d", len(l.scale), c)
	}
	n := sh[0] * sh[1] * c
	if cap(s.buf) < l.cfg.BatchSize*n {
		s.buf = make([]float32, l.cfg.BatchSize*n)
	}
	dst := s.buf[p*n : (p+1)*n]
	src := img.Values()
	if len(l.scale) == 0 {
		copy(dst, src)
		return nil
	}
	for i := 0; i < n; i += c {
		for ch := 0; ch < c; ch++ {
			dst[i+ch] = src[i+ch]*l.scale[ch] + l.shift[ch]
		}
	}
	return nil
}

// sample returns item idx preprocessed, as floats in the worker's scratch
// tensor, from the cache when it is there.
func (l *Loader) sample(idx int, w *worker) (*tensor.Tensor, error) {
	if l.cache != nil {
		switch e := &l.cache[idx]; {
		case e.pix != nil:
			return w.float(e.pix, int(e.h), int(e.w), int(e.c)), nil
		case e.err != nil:
			return nil, e.err
		}
	}
	img, err := l.decode(idx, w)
	if err != nil {
		if l.cache != nil {
			l.cache[idx].err = err
		}
		return nil, err
	}
	img = l.cfg.Preprocess.Apply(img)
	h, wd, c := img.Shape[0], img.Shape[1], img.Shape[2]
	n := h * wd * c
	var q []byte
	if l.cache != nil {
		q = make([]byte, n)
	} else {
		if cap(w.u8) < n {
			w.u8 = make([]byte, n)
		}
		q = w.u8[:n]
	}
	for i, v := range img.Values() {
		q[i] = uint8(min(max(v, 0), 1)*255 + 0.5)
	}
	if l.cache != nil {
		l.cache[idx] = cacheEntry{pix: q, h: int32(h), w: int32(wd), c: int32(c)}
	}
	return w.float(q, h, wd, c), nil
}

// float converts 8-bit pixels into the worker's scratch tensor.
func (w *worker) float(pix []byte, h, wd, c int) *tensor.Tensor {
	tensor.Ensure(&w.img, h, wd, c)
	dst := w.img.Values()
	for i, v := range pix {
		dst[i] = u8[v]
	}
	return w.img
}

func (l *Loader) markBad(idx int, err error) {
	fe, ok := err.(*FileError)
	if !ok {
		fe = &FileError{Path: l.ds.Name(idx), Err: err}
	}
	l.badMu.Lock()
	l.bad[idx] = fe
	l.badMu.Unlock()
}

// decode reads item idx from its file or array.
func (l *Loader) decode(idx int, w *worker) (*tensor.Tensor, error) {
	if l.ds.arrays != nil {
		a, row, err := l.ds.arrayRow(idx)
		if err != nil {
			return nil, err
		}
		return a.image(row), nil
	}
	path := l.ds.FilePath(idx)
	b, err := readFileInto(path, w.buf)
	if err != nil {
		return nil, err
	}
	w.buf = b[:0]
	return DecodeBytes(path, b)
}
