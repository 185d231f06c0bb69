package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/deepscope/deepscope/serve"
)

func init() { commands = append(commands, newServeCmd) }

// byteSize is a flag value of bytes with an optional KB, MB or GB suffix
// (powers of 1024).
type byteSize int64

func (b *byteSize) String() string { return fmt.Sprintf("%dMB", int64(*b)>>20) }
func (b *byteSize) Type() string   { return "size" }
func (b *byteSize) Set(s string) error {
	var n int64
	var unit string
	if _, err := fmt.Sscanf(s, "%d%s", &n, &unit); err != nil {
		if _, err := fmt.Sscanf(s, "%d", &n); err != nil {
			return fmt.Errorf("want a size such as 20MB, got %q", s)
		}
	}
	mult := map[string]int64{"": 1, "B": 1, "KB": 1 << 10, "K": 1 << 10, "MB": 1 << 20, "M": 1 << 20, "GB": 1 << 30, "G": 1 << 30}
	m, ok := mult[unit]
	if !ok || n <= 0 {
		return fmt.Errorf("want a size such as 20MB, got %q", s)
	}
	*b = byteSize(n * m)
	return nil
}

func newServeCmd() *cobra.Command {
	var (
		cfg        serve.Config
		addr       string
		maxBody    = byteSize(20 << 20)
		grace      time.Duration
		tta, quiet bool
		driftWin   int
	)
	c := &cobra.Command{
		Use:   "serve --model RUN [--addr 127.0.0.1:8080]",
		Short: "Serve a trained run over HTTP: predictions, Grad-CAM, a web page, metrics and a drift watch",
		Long: `serve answers HTTP requests with the run's model:

  POST /v1/predict   an image as the body (Content-Type image/png, image/jpeg, image/bmp,
                     image/tiff) or several as multipart/form-data -> probabilities per image
  POST /v1/explain   one image -> Grad-CAM heat map (?class=NAME picks the class)
  GET  /v1/models    model name, version, classes, input size, training metrics
  GET  /v1/drift     how recent inputs compare with the validation images
  POST /v1/reload    reload RUN/best.safetensors (also done when the file changes)
  GET  /healthz, /readyz, /metrics (Prometheus), and / (a web page)

Concurrent requests are batched, up to --max-batch images per forward pass; an
image waits up to --max-wait for others when more may come. When --queue images
are waiting, requests get 503 at once. SIGINT or SIGTERM stops the server after
the requests in flight. The drift reference is built from the run's validation
images the first time and kept in RUN/drift.json.

  curl -H 'Content-Type: image/png' --data-binary @cell.png localhost:8080/v1/predict
  curl -F image=@a.png -F image=@b.png localhost:8080/v1/predict`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			level := slog.LevelInfo
			if quiet {
				level = slog.LevelWarn
			}
			cfg.Log = slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: level}))
			cfg.MaxBody = int64(maxBody)
			cfg.Drift.Window = driftWin
			if cmd.Flags().Changed("tta") {
				cfg.TTA = &tta
			}
			if cfg.Watch == 0 {
				cfg.Watch = -1 // never
			}
			if cfg.MaxWait == 0 && cmd.Flags().Changed("max-wait") {
				cfg.MaxWait = -1 // explicitly no waiting
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			s, err := serve.New(cfg)
			if err != nil {
				return err
			}
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				s.Close()
				return fmt.Errorf("serve: %w", err)
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "serving %s on http://%s/\n", cfg.Dir, ln.Addr())
			return s.Serve(ctx, ln, grace)
		},
	}
	f := c.Flags()
	f.StringVar(&cfg.Dir, "model", "", "run directory (required)")
	f.StringVar(&addr, "addr", "127.0.0.1:8080", "address to listen on")
	f.IntVar(&cfg.MaxBatch, "max-batch", 32, "images per forward pass")
	f.DurationVar(&cfg.MaxWait, "max-wait", 5*time.Millisecond, "how long the first image of a batch may wait for others (0: only those already queued)")
	f.IntVar(&cfg.Queue, "queue", 256, "images waiting for the model before requests get 503")
	f.Var(&maxBody, "max-body", "largest request body (KB, MB, GB)")
	f.DurationVar(&cfg.Timeout, "timeout", 10*time.Second, "time a request may take, reading the body included")
	f.IntVar(&cfg.MaxImages, "max-images", 64, "images in one request")
	f.IntVar(&cfg.MaxPixels, "max-pixels", 4096*4096, "width × height of one image")
	f.DurationVar(&cfg.Watch, "watch", 2*time.Second, "how often to check RUN/best.safetensors for new weights (0: never)")
	f.BoolVar(&cfg.NoDrift, "no-drift", false, "turn the drift watch off")
	f.IntVar(&driftWin, "drift-window", 200, "recent images the drift watch compares")
	f.BoolVar(&tta, "tta", false, "test-time augmentation (default: as the run was configured)")
	f.DurationVar(&grace, "grace", 30*time.Second, "how long requests in flight may take to finish at shutdown")
	f.BoolVar(&quiet, "quiet", false, "log warnings only, not every request")
	c.MarkFlagRequired("model")
	return c
}
