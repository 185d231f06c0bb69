package jsonl

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type rec struct {
	Epoch int     `json:"epoch"`
	Loss  float64 `json:"loss"`
}

func TestRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.jsonl")
	if got, err := ReadFile[rec](path); err != nil || got != nil {
		t.Fatalf("missing file: %v, %v", got, err)
	}
	want := []rec{{1, 0.5}, {2, 0.25}}
	if err := WriteFile(path, want); err != nil {
		t.Fatal(err)
	}
	got, err := ReadFile[rec](path)
	if err != nil || len(got) != 2 || got[1] != want[1] {
		t.Fatalf("read %v, %v", got, err)
	}
	os.WriteFile(path, []byte("{\"epoch\":1}\n\n{bad\n"), 0o644)
	got, err = ReadFile[rec](path)
	if err == nil || !strings.Contains(err.Error(), "line 3") || len(got) != 1 {
		t.Errorf("bad line: %v, %v", got, err)
	}
}
