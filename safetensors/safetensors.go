// Package safetensors reads and writes the safetensors file format, the
// format in which deepscope stores model weights, optimizer state and
// checkpoints, and which PyTorch and the Hugging Face tools read directly.
//
// A file is an 8-byte little-endian header length N, then N bytes of JSON
// mapping each tensor name to {"dtype", "shape", "data_offsets"} (offsets
// relative to the end of the header) with an optional "__metadata__" map of
// strings, then the raw little-endian, row-major tensor data.
//
// The format is small enough to write by hand, and doing so keeps the module
// free of cgo and of any dependency beyond the standard library. The reader
// treats every file as hostile: it checks the header length against the file
// and a 100 MB cap, every offset against the data and against the shape and
// dtype, and the byte ranges against each other, before reading a byte of
// data, so bad input gives an error and never a panic or a huge allocation.
//
// Tensors are held as float32 values in memory whatever their dtype in the
// file: the reader converts F64, F16, BF16 and the integer types to float32,
// and the writer converts back to the dtype named by Tensor.DType.
package safetensors

import (
	"fmt"
	"math"
)

// DType names an element type as the safetensors header spells it.
type DType string

// The element types this package reads and writes.
const (
	F64  DType = "F64"
	F32  DType = "F32"
	F16  DType = "F16"
	BF16 DType = "BF16"
	I64  DType = "I64"
	I32  DType = "I32"
	I16  DType = "I16"
	I8   DType = "I8"
	U8   DType = "U8"
	BOOL DType = "BOOL"
)

// Size returns the number of bytes of one element, or 0 for a dtype this
// package does not know.
func (d DType) Size() int {
	switch d {
	case F64, I64:
		return 8
	case F32, I32:
		return 4
	case F16, BF16, I16:
		return 2
	case I8, U8, BOOL:
		return 1
	}
	return 0
}

// Tensor is one named array of a safetensors file. Data holds the elements
// in row-major order as float32, whatever DType they have in the file.
type Tensor struct {
	Name  string
	DType DType // element type in the file; "" means F32 when writing
	Shape []int // PyTorch's shape; empty for a scalar
	Data  []float32
}

// MaxHeader is the largest JSON header Read accepts, as in the reference
// implementation: real headers are at most a few megabytes.
const MaxHeader = 100 << 20

// metadataKey is the header key that holds the free-form string map.
const metadataKey = "__metadata__"

// decode converts n elements of dtype d from little-endian bytes b into dst.
func decode(d DType, b []byte, dst []float32) {
	switch d {
	case F64:
		for i := range dst {
			dst[i] = float32(math.Float64frombits(le64(b[8*i:])))
		}
	case F32:
		for i := range dst {
			dst[i] = math.Float32frombits(le32(b[4*i:]))
		}
	case F16:
		for i := range dst {
			dst[i] = halfToFloat(uint16(b[2*i]) | uint16(b[2*i+1])<<8)
		}
	case BF16:
		for i := range dst {
			dst[i] = math.Float32frombits(uint32(b[2*i])<<16 | uint32(b[2*i+1])<<24)
		}
	case I64:
		for i := range dst {
			dst[i] = float32(int64(le64(b[8*i:])))
		}
	case I32:
		for i := range dst {
			dst[i] = float32(int32(le32(b[4*i:])))
		}
	case I16:
		for i := range dst {
			dst[i] = float32(int16(uint16(b[2*i]) | uint16(b[2*i+1])<<8))
		}
	case I8:
		for i := range dst {
			dst[i] = float32(int8(b[i]))
		}
	case U8, BOOL:
		for i := range dst {
			dst[i] = float32(b[i])
		}
	default:
		panic("safetensors: decode of unknown dtype " + string(d))
	}
}

// encode converts src to dtype d as little-endian bytes in b, which holds
// exactly len(src)*d.Size() bytes. It fails on values the dtype cannot hold
// (NaN or out of range for an integer type, not 0 or 1 for BOOL); integer
// types round to the nearest integer.
func encode(d DType, src []float32, b []byte) error {
	switch d {
	case F64:
		for i, v := range src {
			put64(b[8*i:], math.Float64bits(float64(v)))
		}
		return nil
	case F32:
		for i, v := range src {
			put32(b[4*i:], math.Float32bits(v))
		}
		return nil
	case F16:
		for i, v := range src {
			h := floatToHalf(v)
			b[2*i], b[2*i+1] = byte(h), byte(h>>8)
		}
		return nil
	case BF16:
		for i, v := range src {
			h := floatToBF16(v)
			b[2*i], b[2*i+1] = byte(h), byte(h>>8)
		}
		return nil
	}
	lo, hi := intRange(d)
	for i, v := range src {
		r := math.Round(float64(v))
		if !(r >= lo && r <= hi) || (d == BOOL && r != float64(v)) {
			return fmt.Errorf("value %v at index %d does not fit %s", v, i, d)
		}
		switch d {
		case I64:
			put64(b[8*i:], uint64(int64(r)))
		case I32:
			put32(b[4*i:], uint32(int32(r)))
		case I16:
			x := uint16(int16(r))
			b[2*i], b[2*i+1] = byte(x), byte(x>>8)
		case I8:
			b[i] = byte(int8(r))
		default: // U8, BOOL
			b[i] = byte(r)
		}
	}
	return nil
}

// intRange returns the values an integer dtype holds exactly as float64
// bounds. For I64 the upper bound is the largest float64 below 2^63.
func intRange(d DType) (lo, hi float64) {
	switch d {
	case I64:
		return -(1 << 63), math.Nextafter(1<<63, 0)
	case I32:
		return math.MinInt32, math.MaxInt32
	case I16:
		return math.MinInt16, math.MaxInt16
	case I8:
		return math.MinInt8, math.MaxInt8
	case U8:
		return 0, math.MaxUint8
	case BOOL:
		return 0, 1
	}
	panic("safetensors: encode of unknown dtype " + string(d))
}

func le32(b []byte) uint32 {
	_ = b[3]
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}

func le64(b []byte) uint64 { return uint64(le32(b)) | uint64(le32(b[4:]))<<32 }

func put32(b []byte, v uint32) {
	_ = b[3]
	b[0], b[1], b[2], b[3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
}

func put64(b []byte, v uint64) { put32(b, uint32(v)); put32(b[4:], uint32(v>>32)) }
