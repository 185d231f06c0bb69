package serve

import (
	"log/slog"
	"time"

	"github.com/deepscope/deepscope/drift"
)

// Config says how a Server runs. Zero fields take the defaults named.
type Config struct {
	Dir       string        // run directory (required)
	MaxBatch  int           // images per forward pass; 32
	MaxWait   time.Duration // how long the first image of a batch waits for others being decoded; 5ms (negative: no wait)
	Queue     int           // images waiting for the model before requests are refused; 256
	MaxBody   int64         // bytes of one request body; 20 MiB
	Timeout   time.Duration // time a request may take, reading its body included; 10s
	MaxImages int           // images in one request; 64
	MaxPixels int           // width × height of one image; 4096×4096
	// TTA overrides the run's test-time augmentation setting when not nil.
	TTA *bool
	// Watch is how often RUN/best.safetensors is checked for a new
	// version; 2s (negative: never).
	Watch time.Duration
	// NoDrift turns the drift watch off.
	NoDrift bool
	Drift   drift.Config
	// Log receives one line per request and the server's events; nil
	// discards them.
	Log *slog.Logger

	// beforeBatch, when set (tests), is called by the model goroutine with
	// each batch's size before running it.
	beforeBatch func(n int)
}

func (c Config) withDefaults() Config {
	if c.MaxBatch <= 0 {
		c.MaxBatch = 32
	}
	if c.MaxWait == 0 {
		c.MaxWait = 5 * time.Millisecond
	}
	if c.MaxWait < 0 {
		c.MaxWait = 0
	}
	if c.Queue <= 0 {
		c.Queue = 256
	}
	if c.MaxBody <= 0 {
		c.MaxBody = 20 << 20
	}
	if c.Timeout <= 0 {
		c.Timeout = 10 * time.Second
	}
	if c.MaxImages <= 0 {
		c.MaxImages = 64
	}
	if c.MaxPixels <= 0 {
		c.MaxPixels = 4096 * 4096
	}
	if c.Watch == 0 {
		c.Watch = 2 * time.Second
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	return c
}
