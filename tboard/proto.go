package tboard

import (
	"encoding/binary"
	"errors"
	"math"
)

// The protobuf wire format, as much of it as event files need. A message is
// a sequence of fields; each starts with a varint key (field<<3 | wire type)
// followed by a varint, 8 bytes, 4 bytes, or a varint length and that many
// bytes.

const (
	wireVarint  = 0
	wireFixed64 = 1
	wireBytes   = 2
	wireFixed32 = 5
)

// enc appends protobuf fields to a byte slice.
type enc struct{ b []byte }

func (e *enc) key(field, wire int) { e.b = binary.AppendUvarint(e.b, uint64(field)<<3|uint64(wire)) }

func (e *enc) varint(field int, v uint64) {
	e.key(field, wireVarint)
	e.b = binary.AppendUvarint(e.b, v)
}

func (e *enc) double(field int, v float64) {
	e.key(field, wireFixed64)
	e.b = binary.LittleEndian.AppendUint64(e.b, math.Float64bits(v))
}

func (e *enc) float(field int, v float32) {
	e.key(field, wireFixed32)
	e.b = binary.LittleEndian.AppendUint32(e.b, math.Float32bits(v))
}

func (e *enc) bytes(field int, p []byte) {
	e.key(field, wireBytes)
	e.b = binary.AppendUvarint(e.b, uint64(len(p)))
	e.b = append(e.b, p...)
}

func (e *enc) string(field int, s string) {
	e.key(field, wireBytes)
	e.b = binary.AppendUvarint(e.b, uint64(len(s)))
	e.b = append(e.b, s...)
}

// packedDoubles writes a repeated double field in packed form.
func (e *enc) packedDoubles(field int, vs []float64) {
	e.key(field, wireBytes)
	e.b = binary.AppendUvarint(e.b, uint64(8*len(vs)))
	for _, v := range vs {
		e.b = binary.LittleEndian.AppendUint64(e.b, math.Float64bits(v))
	}
}

// message writes a nested message built by fill as a length-delimited
// field. The nested message is built in a scratch encoder, then copied.
func (e *enc) message(field int, fill func(*enc)) {
	var sub enc
	fill(&sub)
	e.bytes(field, sub.b)
}

var errProto = errors.New("malformed protobuf")

// dec reads protobuf fields from a byte slice. It never panics on bad
// input: every read checks the bounds and reports errProto.
type dec struct{ b []byte }

// next reads the next field's number and wire type, and its payload: the
// value for varint and fixed fields (fixed32 and fixed64 raw bits), or the
// bytes of a length-delimited field.
func (d *dec) next() (field, wire int, v uint64, p []byte, err error) {
	k, n := binary.Uvarint(d.b)
	if n <= 0 {
		return 0, 0, 0, nil, errProto
	}
	d.b = d.b[n:]
	field, wire = int(k>>3), int(k&7)
	switch wire {
	case wireVarint:
		v, n = binary.Uvarint(d.b)
		if n <= 0 {
			return 0, 0, 0, nil, errProto
		}
		d.b = d.b[n:]
	case wireFixed64:
		if len(d.b) < 8 {
			return 0, 0, 0, nil, errProto
		}
		v, d.b = binary.LittleEndian.Uint64(d.b), d.b[8:]
	case wireFixed32:
		if len(d.b) < 4 {
			return 0, 0, 0, nil, errProto
		}
		v, d.b = uint64(binary.LittleEndian.Uint32(d.b)), d.b[4:]
	case wireBytes:
		l, n := binary.Uvarint(d.b)
		if n <= 0 || l > uint64(len(d.b)-n) {
			return 0, 0, 0, nil, errProto
		}
		p, d.b = d.b[n:n+int(l)], d.b[n+int(l):]
	default:
		return 0, 0, 0, nil, errProto
	}
	return field, wire, v, p, nil
}

// doubles decodes a repeated double field, packed (p holds 8-byte values)
// or not (one value in v), appending to dst.
func doubles(dst []float64, wire int, v uint64, p []byte) ([]float64, error) {
	switch wire {
	case wireFixed64:
		return append(dst, math.Float64frombits(v)), nil
	case wireBytes:
		if len(p)%8 != 0 {
			return dst, errProto
		}
		for i := 0; i < len(p); i += 8 {
			dst = append(dst, math.Float64frombits(binary.LittleEndian.Uint64(p[i:])))
		}
		return dst, nil
	}
	return dst, errProto
}
