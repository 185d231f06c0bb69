package segment

import (
	"bytes"
	"fmt"
	"image"
	"image/png"
	"os"

	"github.com/deepscope/deepscope/data"
)

// Labels is an instance label image: one value per pixel, row-major, 0 for
// background and k > 0 for the pixels of object k.
type Labels struct {
	W, H int
	Pix  []int32
}

// NewLabels returns an all-background label image of w x h pixels.
func NewLabels(w, h int) *Labels {
	return &Labels{W: w, H: h, Pix: make([]int32, w*h)}
}

// At returns the label at column x, row y.
func (l *Labels) At(x, y int) int32 { return l.Pix[y*l.W+x] }

// Max returns the largest label (0 for an empty image).
func (l *Labels) Max() int32 {
	var m int32
	for _, v := range l.Pix {
		m = max(m, v)
	}
	return m
}

// Count returns the number of distinct objects (non-zero labels).
func (l *Labels) Count() int {
	seen := map[int32]bool{}
	for _, v := range l.Pix {
		if v != 0 {
			seen[v] = true
		}
	}
	return len(seen)
}

// Areas returns the pixel count of every label, indexed by label, for
// labels 0..Max().
func (l *Labels) Areas() []int {
	a := make([]int, l.Max()+1)
	for _, v := range l.Pix {
		a[v]++
	}
	return a
}

// Relabel renumbers the objects 1..n in the order their first pixel is met
// in raster order, and returns n.
func (l *Labels) Relabel() int {
	next := map[int32]int32{0: 0}
	for i, v := range l.Pix {
		nv, ok := next[v]
		if !ok {
			nv = int32(len(next))
			next[v] = nv
		}
		l.Pix[i] = nv
	}
	return len(next) - 1
}

// RemoveSmall sets objects of fewer than minArea pixels to background and
// renumbers the rest 1..n (see Relabel); it returns n.
func (l *Labels) RemoveSmall(minArea int) int {
	if minArea > 1 {
		area := l.Areas()
		for i, v := range l.Pix {
			if area[v] < minArea {
				l.Pix[i] = 0
			}
		}
	}
	return l.Relabel()
}

// MaxLabel16 is the largest label a 16-bit label image can hold.
const MaxLabel16 = 65535

// WriteLabels writes l to path as a 16-bit grey PNG, replacing any file
// there atomically. More than MaxLabel16 objects (or a negative label) is an
// error: renumber with Relabel first if the labels are sparse.
func WriteLabels(path string, l *Labels) error {
	img := image.NewGray16(image.Rect(0, 0, l.W, l.H))
	for i, v := range l.Pix {
		if v < 0 || v > MaxLabel16 {
			return fmt.Errorf("segment: %s: label %d does not fit a 16-bit label image", path, v)
		}
		img.Pix[2*i], img.Pix[2*i+1] = uint8(v>>8), uint8(v)
	}
	var buf bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(&buf, img); err != nil {
		return fmt.Errorf("segment: %s: %w", path, err)
	}
	return data.WriteFileAtomic(path, buf.Bytes())
}

// ReadLabels reads an instance label image: a single-channel 8- or 16-bit
// PNG or TIFF (a grey RGB image, R = G = B, is read as grey). It refuses,
// with an error naming the file, what cannot hold integer instance labels:
// JPEG (lossy), colour images, and 8-bit images whose labels overflowed
// (see check8Bit).
func ReadLabels(path string) (*Labels, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("segment: %w", err)
	}
	img, depth, err := decodeInts(path, b)
	if err != nil {
		return nil, err
	}
	l, err := labelsOf(path, img, depth)
	if err != nil {
		return nil, err
	}
	if depth == 8 {
		if err := check8Bit(path, l); err != nil {
			return nil, err
		}
	}
	return l, nil
}

// decodeInts decodes an image that must hold integers, refusing lossy
// formats before decoding, and returns it with its bit depth.
func decodeInts(path string, b []byte) (image.Image, int, error) {
	info, err := data.DecodeInfo(path, b)
	if err != nil {
		return nil, 0, err // a *data.FileError, naming the file
	}
	if info.Format == "jpeg" {
		return nil, 0, fmt.Errorf("segment: %s: a JPEG cannot hold labels (lossy compression changes the values); use PNG or TIFF", path)
	}
	img, _, err := image.Decode(bytes.NewReader(b))
	if err != nil {
		return nil, 0, fmt.Errorf("segment: %s: cannot read as an integer label image (8 or 16-bit grey PNG or TIFF): %v", path, err)
	}
	return img, info.BitDepth, nil
}

// labelsOf converts a decoded image to labels, refusing colour.
func labelsOf(path string, img image.Image, depth int) (*Labels, error) {
	r := img.Bounds()
	l := NewLabels(r.Dx(), r.Dy())
	switch m := img.(type) {
	case *image.Gray16:
		for y := 0; y < l.H; y++ {
			row := m.Pix[y*m.Stride:]
			for x := 0; x < l.W; x++ {
				l.Pix[y*l.W+x] = int32(row[2*x])<<8 | int32(row[2*x+1])
			}
		}
		return l, nil
	case *image.Gray:
		for y := 0; y < l.H; y++ {
			row := m.Pix[y*m.Stride:]
			for x := 0; x < l.W; x++ {
				l.Pix[y*l.W+x] = int32(row[x])
			}
		}
		return l, nil
	case *image.Paletted:
		// Palette indices are the labels, as in label images saved by
		// tools that colour each object.
		for y := 0; y < l.H; y++ {
			row := m.Pix[y*m.Stride:]
			for x := 0; x < l.W; x++ {
				l.Pix[y*l.W+x] = int32(row[x])
			}
		}
		return l, nil
	}
	shift := uint(0)
	if depth == 8 {
		shift = 8 // the colour model scales 8-bit values by 257
	}
	for y := 0; y < l.H; y++ {
		for x := 0; x < l.W; x++ {
			cr, cg, cb, ca := img.At(r.Min.X+x, r.Min.Y+y).RGBA()
			if ca != 0xffff {
				return nil, fmt.Errorf("segment: %s: pixel %d,%d is transparent; labels must be one integer per pixel in a grey 8 or 16-bit image", path, x, y)
			}
			if cr != cg || cg != cb {
				return nil, fmt.Errorf("segment: %s: a colour label image (pixel %d,%d is %d,%d,%d); labels must be one integer per pixel in a grey 8 or 16-bit image",
					path, x, y, cr>>shift, cg>>shift, cb>>shift)
			}
			l.Pix[y*l.W+x] = int32(cr >> shift)
		}
	}
	return l, nil
}

// check8Bit refuses an 8-bit label image that uses value 255 and gives some
// label to separate regions: the mark of labels saved modulo 256 (an image
// of more than 255 objects written as 8-bit), or of a binary mask given
// where instance labels were wanted. One object may have a few separate
// fragments by accident, so only the image that reaches 255 is suspected.
func check8Bit(path string, l *Labels) error {
	if l.Max() != 255 {
		return nil
	}
	pieces := components8(l)
	for v, n := range pieces {
		if v != 0 && n > 1 {
			return fmt.Errorf("segment: %s: 8-bit label image reaches 255 and label %d marks %d separate regions: the labels overflowed 8 bits, or this is a binary mask; save instance labels as 16-bit, one value per object", path, v, n)
		}
	}
	return nil
}

// components8 counts, for every label, its 8-connected regions.
func components8(l *Labels) map[int32]int {
	seen := make([]bool, len(l.Pix))
	count := map[int32]int{}
	var stack []int
	for i, v := range l.Pix {
		if v == 0 || seen[i] {
			continue
		}
		count[v]++
		seen[i] = true
		stack = append(stack[:0], i)
		for len(stack) > 0 {
			p := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			px, py := p%l.W, p/l.W
			for dy := -1; dy <= 1; dy++ {
				for dx := -1; dx <= 1; dx++ {
					x, y := px+dx, py+dy
					if x < 0 || y < 0 || x >= l.W || y >= l.H {
						continue
					}
					q := y*l.W + x
					if !seen[q] && l.Pix[q] == v {
						seen[q] = true
						stack = append(stack, q)
					}
				}
			}
		}
	}
	return count
}

// ReadMasks builds labels from binary masks, one file per object, as the
// 2018 Data Science Bowl shipped them: mask i (in the order given) becomes
// object i+1; where masks overlap, the later one wins. Any non-zero pixel is
// inside. Every mask must be w x h; an empty mask is skipped.
func ReadMasks(paths []string, w, h int) (*Labels, error) {
	l := NewLabels(w, h)
	next := int32(1)
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("segment: %w", err)
		}
		img, depth, err := decodeInts(p, b)
		if err != nil {
			return nil, err
		}
		m, err := labelsOf(p, img, depth)
		if err != nil {
			return nil, err
		}
		if m.W != w || m.H != h {
			return nil, fmt.Errorf("segment: %s: mask is %dx%d, its image %dx%d", p, m.W, m.H, w, h)
		}
		any := false
		for i, v := range m.Pix {
			if v != 0 {
				l.Pix[i] = next
				any = true
			}
		}
		if any {
			next++
		}
	}
	return l, nil
}
