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
	var sh [3]int
	p := 0
	for _, idx := range l.order[lo:hi] {
		pix, ish, err := l.load(idx, w)
		if err != nil {
			if l.cfg.OnBad == OnBadSkip {
				l.markBad(idx, err)
				continue
			}
			return err
		}
		if l.cfg.Transform == nil {
			sh = ish
			err = l.place8(s, p, pix, sh, idx)
		} else {
			img := w.float(pix, ish)
			SampleRand(w.pcg, l.cfg.Seed, e, idx)
			img = l.cfg.Transform.Apply(img, w.rng)
			if img.Dims() != 3 {
				return fmt.Errorf("data: %s: transform returned shape %v, want [H, W, C]", l.ds.Name(idx), img.Shape)
			}
			img = img.Contiguous()
			sh = [3]int{img.Shape[0], img.Shape[1], img.Shape[2]}
			err = l.place(s, p, img.Values(), sh, idx)
		}
		if err != nil {
			return err
		}
		p++
		b.Indices = append(b.Indices, idx)
		b.Labels = append(b.Labels, l.ds.Items[idx].Label)
	}
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

// slotRoom checks an image's shape against the loader's and returns the
// batch memory for position p.
func (l *Loader) slotRoom(s *slot, p int, sh [3]int, idx int) ([]float32, error) {
	l.shapeMu.Lock()
	if l.shape == [3]int{} {
		l.shape = sh
	}
	want := l.shape
	l.shapeMu.Unlock()
	if sh != want {
		return nil, fmt.Errorf("data: %s: image is %dx%dx%d after preprocessing, others are %dx%dx%d (set Preprocess.Size and Channels)",
			l.ds.Name(idx), sh[0], sh[1], sh[2], want[0], want[1], want[2])
	}
	if len(l.scale) != 0 && len(l.scale) != sh[2] {
		return nil, fmt.Errorf("data: normalize has %d channels, images have %d", len(l.scale), sh[2])
	}
	n := sh[0] * sh[1] * sh[2]
	if cap(s.buf) < l.cfg.BatchSize*n {
		s.buf = make([]float32, l.cfg.BatchSize*n)
	}
	return s.buf[p*n : (p+1)*n], nil
}

// place normalises a float image into position p of slot s's batch.
func (l *Loader) place(s *slot, p int, src []float32, sh [3]int, idx int) error {
	dst, err := l.slotRoom(s, p, sh, idx)
	if err != nil {
		return err
	}
	if len(l.scale) == 0 {
		copy(dst, src)
		return nil
	}
	c := sh[2]
	for i := 0; i < len(dst); i += c {
		for ch := 0; ch < c; ch++ {
			dst[i+ch] = src[i+ch]*l.scale[ch] + l.shift[ch]
		}
	}
	return nil
}

// place8 converts and normalises 8-bit pixels into position p of slot s's
// batch through one 256-entry table per channel.
func (l *Loader) place8(s *slot, p int, pix []byte, sh [3]int, idx int) error {
	dst, err := l.slotRoom(s, p, sh, idx)
	if err != nil {
		return err
	}
	c := sh[2]
	if len(l.lut) == 1 {
		lut := &l.lut[0]
		for i, v := range pix {
			dst[i] = lut[v]
		}
		return nil
	}
	for i := 0; i < len(dst); i += c {
		for ch := 0; ch < c; ch++ {
			dst[i+ch] = l.lut[ch][pix[i+ch]]
		}
	}
	return nil
}

// load returns item idx preprocessed to 8-bit pixels [H, W, C], from the
// cache when it is there. The result may be the worker's scratch memory.
func (l *Loader) load(idx int, w *worker) ([]byte, [3]int, error) {
	if l.cache != nil {
		switch e := &l.cache[idx]; {
		case e.pix != nil:
			return e.pix, [3]int{int(e.h), int(e.w), int(e.c)}, nil
		case e.err != nil:
			return nil, [3]int{}, e.err
		}
	}
	pix, sh, err := l.preprocessed(idx, w)
	if l.cache != nil && !(l.ds.arrays != nil && l.cfg.Preprocess.keeps(sh)) { // array rows are in memory already
		if err != nil {
			l.cache[idx].err = err
		} else {
			l.cache[idx] = cacheEntry{pix: pix, h: int32(sh[0]), w: int32(sh[1]), c: int32(sh[2])}
		}
	}
	return pix, sh, err
}

// preprocessed decodes and preprocesses item idx. 8-bit images that
// preprocessing leaves alone never become floats. With the cache on, the
// result is fresh memory (or the dataset's own array row, read only).
func (l *Loader) preprocessed(idx int, w *worker) ([]byte, [3]int, error) {
	var pix []byte
	var sh [3]int
	var f *tensor.Tensor
	if l.ds.arrays != nil {
		a, row, err := l.ds.arrayRow(idx)
		if err != nil {
			return nil, sh, err
		}
		pix, sh = a.rowBytes(row), [3]int{a.h, a.w, a.c}
	} else {
		path := l.ds.FilePath(idx)
		b, err := readFileInto(path, w.buf)
		if err != nil {
			return nil, sh, err
		}
		w.buf = b[:0]
		img, _, err := decodeImage(path, b)
		if err != nil {
			return nil, sh, err
		}
		var ok bool
		if pix, sh[0], sh[1], sh[2], ok = image8(img, w.dec); ok {
			w.dec = pix[:0]
			if l.cache != nil && l.cfg.Preprocess.keeps(sh) {
				pix = append([]byte(nil), pix...)
			}
		} else {
			f = imageToTensor(img)
		}
	}
	pre := l.cfg.Preprocess
	if f == nil && pre.keeps(sh) {
		return pix, sh, nil
	}
	if f == nil {
		f = w.float(pix, sh)
	}
	f = pre.apply(f, &w.pre, &w.tmp)
	sh = [3]int{f.Shape[0], f.Shape[1], f.Shape[2]}
	n := sh[0] * sh[1] * sh[2]
	var q []byte
	if l.cache != nil {
		q = make([]byte, n)
	} else {
		if cap(w.u8) < n {
			w.u8 = make([]byte, n)
		}
		q = w.u8[:n]
	}
	for i, v := range f.Values() {
		q[i] = uint8(min(max(v, 0), 1)*255 + 0.5)
	}
	return q, sh, nil
}

// float converts 8-bit pixels into the worker's scratch tensor.
func (w *worker) float(pix []byte, sh [3]int) *tensor.Tensor {
	tensor.Ensure(&w.img, sh[0], sh[1], sh[2])
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
