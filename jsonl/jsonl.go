// Package jsonl reads and writes JSON Lines files: one JSON value per line,
// the format of a run's metrics.jsonl. Writes go to a temporary file that is
// then renamed, so a crash never leaves a half-written file.
package jsonl

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/deepscope/deepscope/data"
)

// ReadFile decodes every non-empty line of path as a T. A missing file
// reads as no values; a line that does not decode is an error naming the
// file and line.
func ReadFile[T any](path string) ([]T, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	var out []T
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 16<<20)
	for n := 1; sc.Scan(); n++ {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var v T
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			return out, fmt.Errorf("jsonl: %s line %d: %w", path, n, err)
		}
		out = append(out, v)
	}
	return out, sc.Err()
}

// WriteFile writes one line per value to path, atomically.
func WriteFile[T any](path string, values []T) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	for _, v := range values {
		if err := enc.Encode(v); err != nil {
			return fmt.Errorf("jsonl: %s: %w", path, err)
		}
	}
	return data.WriteFileAtomic(path, buf.Bytes())
}
