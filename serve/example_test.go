package serve_test

import (
	"context"
	"log"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/deepscope/deepscope/serve"
)

// Serve a run on the loopback interface until SIGINT or SIGTERM, then
// shut down gracefully: requests in flight finish, for up to 30 seconds.
func Example() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	s, err := serve.New(serve.Config{
		Dir:      "runs/pbc-cellnet", // a run directory written by deepscope train
		MaxBatch: 32,
		MaxWait:  5 * time.Millisecond,
		Log:      slog.New(slog.NewTextHandler(os.Stderr, nil)),
	})
	if err != nil {
		log.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:8080")
	if err != nil {
		log.Fatal(err)
	}
	if err := s.Serve(ctx, ln, 30*time.Second); err != nil {
		log.Fatal(err)
	}
}
