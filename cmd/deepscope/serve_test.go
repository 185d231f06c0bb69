package main

import "testing"

func TestByteSizeFlag(t *testing.T) {
	cases := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"20MB", 20 << 20, true},
		{"512KB", 512 << 10, true},
		{"1G", 1 << 30, true},
		{"4096", 4096, true},
		{"0MB", 0, false},
		{"-1MB", 0, false},
		{"20XB", 0, false},
		{"lots", 0, false},
	}
	for _, c := range cases {
		var b byteSize
		err := b.Set(c.in)
		if (err == nil) != c.ok || (c.ok && int64(b) != c.want) {
			t.Errorf("Set(%q) = %d, %v; want %d, ok=%v", c.in, int64(b), err, c.want, c.ok)
		}
	}
}
