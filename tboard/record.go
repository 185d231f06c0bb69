package tboard

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
)

// TFRecord framing: each record is
//
//	uint64 length (little endian)
//	uint32 masked CRC-32C of those 8 length bytes
//	length bytes of data
//	uint32 masked CRC-32C of the data
//
// The mask keeps a CRC of data that itself holds CRCs from being trivial.

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// maskedCRC returns the masked CRC-32C (Castagnoli) of p.
func maskedCRC(p []byte) uint32 {
	c := crc32.Checksum(p, castagnoli)
	return (c>>15 | c<<17) + 0xa282ead8
}

// appendRecord appends data framed as one TFRecord to dst.
func appendRecord(dst, data []byte) []byte {
	var hdr [8]byte
	binary.LittleEndian.PutUint64(hdr[:], uint64(len(data)))
	dst = append(dst, hdr[:]...)
	dst = binary.LittleEndian.AppendUint32(dst, maskedCRC(hdr[:]))
	dst = append(dst, data...)
	return binary.LittleEndian.AppendUint32(dst, maskedCRC(data))
}

// maxRecord bounds the length a reader accepts, so a corrupt length field
// cannot make it allocate gigabytes.
const maxRecord = 1 << 30

// errTruncated reports a record cut short, as a crash mid-write leaves.
var errTruncated = errors.New("truncated record")

// readRecord reads one record from r. It returns io.EOF at a clean end of
// input, errTruncated for a partial record, and an error naming the CRC
// that failed for corrupt data.
func readRecord(r io.Reader) ([]byte, error) {
	var hdr [12]byte
	if n, err := io.ReadFull(r, hdr[:]); err != nil {
		if err == io.EOF {
			return nil, io.EOF
		}
		return nil, fmt.Errorf("%w: %d of 12 header bytes", errTruncated, n)
	}
	if got, want := binary.LittleEndian.Uint32(hdr[8:]), maskedCRC(hdr[:8]); got != want {
		return nil, fmt.Errorf("length CRC mismatch (stored %#08x, computed %#08x)", got, want)
	}
	n := binary.LittleEndian.Uint64(hdr[:8])
	if n > maxRecord {
		return nil, fmt.Errorf("record length %d exceeds %d", n, maxRecord)
	}
	buf := make([]byte, n+4)
	if k, err := io.ReadFull(r, buf); err != nil {
		return nil, fmt.Errorf("%w: %d of %d data bytes", errTruncated, k, n+4)
	}
	data := buf[:n]
	if got, want := binary.LittleEndian.Uint32(buf[n:]), maskedCRC(data); got != want {
		return nil, fmt.Errorf("data CRC mismatch (stored %#08x, computed %#08x)", got, want)
	}
	return data, nil
}
