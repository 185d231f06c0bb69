package data

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
)

// A reader for numpy's .npy format (as stored inside .npz archives): the
// magic "\x93NUMPY", a version, a little-endian header length, a Python
// dict literal such as {'descr': '|u1', 'fortran_order': False, 'shape':
// (100, 28, 28, 3), } and the raw C-order array bytes. Only the numeric
// dtypes that image datasets use are accepted.

// maxArrayBytes bounds the array an .npy header may claim, so a corrupt
// header cannot make the reader allocate without limit.
const maxArrayBytes = 1 << 36 // 64 GiB

type npyArray struct {
	dtype string // "u1", "i8", "f4", ... (byte order dropped)
	shape []int
	data  []byte // little-endian
}

var (
	npyDescr   = regexp.MustCompile(`['"]descr['"]\s*:\s*['"]([^'"]*)['"]`)
	npyFortran = regexp.MustCompile(`['"]fortran_order['"]\s*:\s*(True|False)`)
	npyShape   = regexp.MustCompile(`['"]shape['"]\s*:\s*\(([^)]*)\)`)
)

// itemSize returns the bytes per element of a supported dtype.
func itemSize(dtype string) int {
	switch dtype {
	case "u1", "i1", "b1":
		return 1
	case "u2", "i2":
		return 2
	case "u4", "i4", "f4":
		return 4
	case "u8", "i8", "f8":
		return 8
	}
	return 0
}

// readNPY reads one array from r. size is the number of bytes r holds (the
// zip entry's uncompressed size); the header must agree with it.
func readNPY(r io.Reader, size uint64) (*npyArray, error) {
	var pre [10]byte
	if _, err := io.ReadFull(r, pre[:]); err != nil {
		return nil, fmt.Errorf("truncated .npy header")
	}
	if string(pre[:6]) != "\x93NUMPY" {
		return nil, fmt.Errorf("not a .npy array (starts with %q)", pre[:6])
	}
	var hlen, pos int
	switch pre[6] {
	case 1:
		hlen, pos = int(binary.LittleEndian.Uint16(pre[8:10])), 10
	case 2, 3:
		var more [2]byte
		if _, err := io.ReadFull(r, more[:]); err != nil {
			return nil, fmt.Errorf("truncated .npy header")
		}
		hlen, pos = int(binary.LittleEndian.Uint32(append(pre[8:10:10], more[:]...))), 12
	default:
		return nil, fmt.Errorf(".npy version %d.%d not supported", pre[6], pre[7])
	}
	if hlen > 1<<20 {
		return nil, fmt.Errorf(".npy header of %d bytes is implausible", hlen)
	}
	hb := make([]byte, hlen)
	if _, err := io.ReadFull(r, hb); err != nil {
		return nil, fmt.Errorf("truncated .npy header")
	}
	a, err := parseNPYHeader(string(hb))
	if err != nil {
		return nil, err
	}
	n := int64(itemSize(a.dtype))
	for _, d := range a.shape {
		if d != 0 && n > maxArrayBytes/int64(d) {
			return nil, fmt.Errorf(".npy shape %v is too large", a.shape)
		}
		n *= int64(d)
	}
	if want := uint64(pos+hlen) + uint64(n); size != want {
		return nil, fmt.Errorf(".npy header says shape %v of %s (%d bytes) but the entry holds %d bytes",
			a.shape, a.dtype, n, size-min(size, uint64(pos+hlen)))
	}
	a.data, err = readExactly(r, n)
	if err != nil {
		return nil, err
	}
	return a, nil
}

func parseNPYHeader(h string) (*npyArray, error) {
	m := npyDescr.FindStringSubmatch(h)
	if m == nil {
		return nil, fmt.Errorf(".npy header has no descr: %q", h)
	}
	descr := m[1]
	if len(descr) < 2 || (descr[0] != '<' && descr[0] != '|' && descr[0] != '>' && descr[0] != '=') {
		return nil, fmt.Errorf(".npy dtype %q not supported", descr)
	}
	dtype := descr[1:]
	if descr[0] == '>' && itemSize(dtype) > 1 {
		return nil, fmt.Errorf(".npy dtype %q is big-endian; only little-endian is supported", descr)
	}
	if itemSize(dtype) == 0 {
		return nil, fmt.Errorf(".npy dtype %q not supported (want an integer, bool or float type)", descr)
	}
	if m := npyFortran.FindStringSubmatch(h); m == nil {
		return nil, fmt.Errorf(".npy header has no fortran_order: %q", h)
	} else if m[1] == "True" {
		return nil, fmt.Errorf(".npy array in Fortran order is not supported")
	}
	m = npyShape.FindStringSubmatch(h)
	if m == nil {
		return nil, fmt.Errorf(".npy header has no shape: %q", h)
	}
	a := &npyArray{dtype: dtype}
	for _, f := range strings.Split(m[1], ",") {
		f = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(f), "L"))
		if f == "" {
			continue
		}
		d, err := strconv.Atoi(f)
		if err != nil || d < 0 {
			return nil, fmt.Errorf(".npy shape (%s) is not a tuple of sizes", m[1])
		}
		a.shape = append(a.shape, d)
	}
	return a, nil
}

// readExactly reads n bytes and then checks that r is at its end (which is
// also when archive/zip verifies the entry's CRC). It grows its buffer as
// data arrives instead of trusting n up front beyond 1 GiB.
func readExactly(r io.Reader, n int64) ([]byte, error) {
	buf := make([]byte, 0, min(n, 1<<30))
	for int64(len(buf)) < n {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		want := min(int64(cap(buf)), n)
		k, err := r.Read(buf[len(buf):want])
		buf = buf[:len(buf)+k]
		if err == io.EOF && int64(len(buf)) < n {
			return nil, fmt.Errorf("truncated .npy data: %d of %d bytes", len(buf), n)
		}
		if err != nil && err != io.EOF {
			return nil, fmt.Errorf("reading .npy data: %v", err)
		}
	}
	var one [1]byte
	k, err := r.Read(one[:])
	if k > 0 {
		return nil, fmt.Errorf(".npy data longer than its shape says")
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("reading .npy data: %v", err)
	}
	return buf, nil
}

// ints returns the array's values as ints (integer and bool dtypes only).
func (a *npyArray) ints() ([]int, error) {
	sz := itemSize(a.dtype)
	out := make([]int, len(a.data)/sz)
	le := binary.LittleEndian
	for i := range out {
		b := a.data[i*sz:]
		switch a.dtype {
		case "u1", "b1":
			out[i] = int(b[0])
		case "i1":
			out[i] = int(int8(b[0]))
		case "u2":
			out[i] = int(le.Uint16(b))
		case "i2":
			out[i] = int(int16(le.Uint16(b)))
		case "u4":
			out[i] = int(le.Uint32(b))
		case "i4":
			out[i] = int(int32(le.Uint32(b)))
		case "u8":
			v := le.Uint64(b)
			if v > 1<<62 {
				return nil, fmt.Errorf("value %d out of range", v)
			}
			out[i] = int(v)
		case "i8":
			out[i] = int(int64(le.Uint64(b)))
		default:
			return nil, fmt.Errorf("dtype %s is not an integer type", a.dtype)
		}
	}
	return out, nil
}
