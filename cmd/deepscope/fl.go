package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/deepscope/deepscope/fl"
	"github.com/deepscope/deepscope/models"
)

// flCommands holds the constructors of the "deepscope fl" subcommands.
var flCommands = []func() *cobra.Command{newFLServerCmd, newFLClientCmd, newFLCertsCmd}

func init() { commands = append(commands, newFLCmd) }

func newFLCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "fl",
		Short: "Federated learning: train one model across sites that keep their images",
		Long: `fl trains one classifier across sites (hospitals, labs) whose images never leave
them. A server holds the global model; in every round a cohort of clients downloads
it, trains it for a few epochs on local images and sends back only the change, which
the server averages (FedAvg, FedProx, or robust median / trimmed mean). Client and
server talk HTTP over mutual TLS; "fl certs" makes a CA and certificates for a demo.
"fl simulate" runs the same rounds in one process over a partition of one dataset.`,
		Example: `  deepscope fl certs --out certs --clients 3
  deepscope fl server --rounds 20 --min-clients 2 --addr 127.0.0.1:8443 --tls-cert certs/server.pem \
      --tls-key certs/server.key --client-ca certs/ca.pem --out runs/fl
  deepscope fl client --server https://127.0.0.1:8443 --data site1/ --tls-cert certs/client1.pem \
      --tls-key certs/client1.key --ca certs/ca.pem
  deepscope fl simulate --data ../shared/data/pbc --size 28 --crop 0.556 --clients 5 \
      --partition dirichlet:0.5 --rounds 30 --local-epochs 1`,
	}
	for _, f := range flCommands {
		c.AddCommand(f())
	}
	return c
}

// addRecipeFlags registers the flags of a federated recipe.
func addRecipeFlags(f *pflag.FlagSet, r *fl.Recipe) {
	d := fl.DefaultRecipe()
	f.StringVar(&r.Model, "model", d.Model, "model: "+strings.Join(models.Names(), ", "))
	f.IntVar(&r.Size, "size", d.Size, "input side in pixels")
	f.Float64Var(&r.Crop, "crop", d.Crop, "centre fraction of each side kept before resizing (BloodMNIST's 28 px protocol: 0.556)")
	f.IntVar(&r.Rounds, "rounds", d.Rounds, "rounds of federated training")
	f.IntVar(&r.Local.Epochs, "local-epochs", d.Local.Epochs, "epochs each client trains per round")
	f.IntVar(&r.Local.Batch, "batch", d.Local.Batch, "batch size of local training")
	f.StringVar(&r.Local.Optimizer, "optimizer", d.Local.Optimizer, "local optimizer: adamw or sgd")
	f.Float64Var(&r.Local.LR, "lr", d.Local.LR, "local learning rate at the first round")
	f.StringVar(&r.Schedule, "schedule", d.Schedule, "learning rate over the rounds: cosine or constant")
	f.Float64Var(&r.Local.WeightDecay, "weight-decay", d.Local.WeightDecay, "weight decay")
	f.Float64Var(&r.Local.LabelSmoothing, "label-smoothing", d.Local.LabelSmoothing, "label smoothing")
	f.StringVar(&r.Local.Augment, "augment", d.Local.Augment, "augmentation: none, light, standard or strong")
	f.StringVar(&r.Aggregate.Method, "aggregate", d.Aggregate.Method, "aggregation: "+strings.Join(fl.Methods, ", "))
	f.Float64Var(&r.Local.Mu, "mu", 0, "FedProx proximal weight (0 with --aggregate fedprox: 0.01)")
	f.Float64Var(&r.Aggregate.Trim, "trim", 0, "fraction trimmed at each end by --aggregate trimmed (0: 0.2)")
	f.Float64Var(&r.Aggregate.NormFactor, "norm-factor", 0, "reject updates whose norm exceeds this multiple of the others' median (0: 10, negative: off)")
	f.BoolVar(&r.Secure, "secure", false, "secure aggregation by pairwise masking: the server sees only the sum of the updates")
	f.Float64Var(&r.Aggregate.DP.Clip, "dp-clip", 0, "client-level DP: clip each client's update to this L2 norm (0: off)")
	f.Float64Var(&r.Aggregate.DP.Noise, "dp-noise", 0, "client-level DP: Gaussian noise multiplier on the clipped sum")
	f.Uint64Var(&r.Seed, "seed", d.Seed, "random seed (initial model, shuffles)")
}

// signalContext is cancelled by Ctrl-C or SIGTERM.
func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

func newFLServerCmd() *cobra.Command {
	var (
		cfg                   fl.ServerConfig
		addr, cert, key, ca   string
		classes               string
		timeout, window, wait time.Duration
	)
	c := &cobra.Command{
		Use:   "server --out RUN --tls-cert PEM --tls-key PEM --client-ca PEM [flags]",
		Short: "Run the server of a federated training over mutual TLS",
		Long: `server holds the global model and runs the rounds. Clients must present a
certificate signed by --client-ca; others are refused at the TLS handshake. A round
opens for clients to join; once --min-clients have joined (and --join-window has
passed, or every client seen before has joined) the cohort trains. The round is
aggregated when every member has reported, or at --round-timeout if at least
--min-clients updates came; otherwise it is run again. Malformed updates (wrong
names or shapes, NaN or Inf, a norm far above the others') are rejected and logged.

After every round the global model and the round number are written together to
RUN/fl_state.safetensors; started again with the same --out, the server resumes at
its round. RUN is also a run directory (run.json, best.safetensors holding the
latest global model, rounds.jsonl) that deepscope eval, predict and serve read.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if cert == "" || key == "" || ca == "" {
				return fmt.Errorf("fl server: --tls-cert, --tls-key and --client-ca are required (deepscope fl certs makes a set)")
			}
			tc, err := fl.ServerTLS(cert, key, ca)
			if err != nil {
				return err
			}
			if classes != "" {
				cfg.Classes = strings.Split(classes, ",")
			}
			cfg.RoundTimeout, cfg.JoinWindow, cfg.Linger = timeout, window, wait
			cfg.Log, cfg.Version = cmd.ErrOrStderr(), version
			s, err := fl.NewServer(cfg)
			if err != nil {
				return err
			}
			ctx, stop := signalContext()
			defer stop()
			fmt.Fprintf(cmd.ErrOrStderr(), "fl server: listening on https://%s for %d rounds, quorum %d\n", addr, cfg.Rounds, cfg.MinClients)
			if err := s.ListenAndServe(ctx, addr, tc); err != nil {
				if ctx.Err() != nil {
					fmt.Fprintf(cmd.ErrOrStderr(), "fl server: stopped after round %d; start it again with the same --out to resume\n", s.Round())
				}
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%d rounds done; global model in %s (deepscope eval %s --data TEST)\n", s.Round(), cfg.Out, cfg.Out)
			return nil
		},
	}
	f := c.Flags()
	addRecipeFlags(f, &cfg.Recipe)
	f.IntVar(&cfg.MinClients, "min-clients", 2, "quorum: the fewest updates a round is aggregated with")
	f.StringVar(&addr, "addr", "127.0.0.1:8443", "address to listen on")
	f.StringVar(&cert, "tls-cert", "", "server certificate (PEM)")
	f.StringVar(&key, "tls-key", "", "server private key (PEM)")
	f.StringVar(&ca, "client-ca", "", "authority whose client certificates are accepted (PEM)")
	f.StringVar(&cfg.Out, "out", "runs/fl", "run directory; a run found there is resumed")
	f.StringVar(&classes, "classes", "", "comma-separated class names (default: the first cohort's)")
	f.DurationVar(&timeout, "round-timeout", 10*time.Minute, "how long a cohort has to report")
	f.DurationVar(&window, "join-window", 5*time.Second, "how long joining stays open once the quorum has joined")
	f.DurationVar(&wait, "linger", 30*time.Second, "how long to keep answering after the last round")
	return c
}

func newFLClientCmd() *cobra.Command {
	var (
		cfg           fl.ClientConfig
		cert, key, ca string
		poll, giveUp  time.Duration
		workers       int
		seed          uint64
	)
	c := &cobra.Command{
		Use:   "client --server URL --data SITE --tls-cert PEM --tls-key PEM --ca PEM",
		Short: "Take part in a federated training with a site's images",
		Long: `client trains the server's global model on the images of one site and sends back
only the change. SITE is a dataset as deepscope train reads it (class folders, a
manifest, a MedMNIST .npz); its train split is trained on and its val split
measures each global model (without splits, 10% is held out). The client's name is
its certificate's common name. It polls the server, rides out a server restart,
and exits when training is over.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if cert == "" || key == "" || ca == "" {
				return fmt.Errorf("fl client: --tls-cert, --tls-key and --ca are required")
			}
			tc, err := fl.ClientTLS(cert, key, ca)
			if err != nil {
				return err
			}
			cfg.TLS, cfg.Poll, cfg.GiveUp, cfg.Workers, cfg.Seed = tc, poll, giveUp, workers, seed
			cfg.Log = cmd.ErrOrStderr()
			ctx, stop := signalContext()
			defer stop()
			return fl.RunClient(ctx, cfg)
		},
	}
	f := c.Flags()
	f.StringVar(&cfg.Server, "server", "", "the server's URL, https://host:port (required)")
	f.StringVar(&cfg.Data, "data", "", "the site's dataset (required)")
	f.StringVar(&cert, "tls-cert", "", "this site's certificate (PEM)")
	f.StringVar(&key, "tls-key", "", "this site's private key (PEM)")
	f.StringVar(&ca, "ca", "", "authority that signed the server's certificate (PEM)")
	f.DurationVar(&poll, "poll", 2*time.Second, "time between polls of the server")
	f.DurationVar(&giveUp, "give-up", 10*time.Minute, "stop after the server has been unreachable this long")
	f.IntVar(&workers, "workers", 0, "image decoding goroutines (0: one per core)")
	f.Uint64Var(&seed, "seed", 1, "seed of the local shuffles and augmentation")
	return c
}

func newFLCertsCmd() *cobra.Command {
	var (
		out   string
		n     int
		hosts string
	)
	c := &cobra.Command{
		Use:   "certs --out DIR --clients N",
		Short: "Make a CA and certificates for a federated demo or test",
		Long: `certs writes DIR/ca.pem (and its key), DIR/server.pem and server.key for the
server (valid for --hosts), and DIR/clientI.pem and clientI.key for I = 1..N:
ECDSA P-256, valid one year. For tests and demonstrations; in production, use
certificates from the sites' own authority.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return fmt.Errorf("fl certs: --out DIR is required")
			}
			var hs []string
			if hosts != "" {
				hs = strings.Split(hosts, ",")
			}
			if err := fl.MakeCerts(out, n, hs); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote a CA, a server certificate and %d client certificates to %s\n", n, out)
			fmt.Fprintf(cmd.OutOrStdout(), "server: --tls-cert %s --tls-key %s --client-ca %s\n",
				filepath.Join(out, fl.ServerCertFile), filepath.Join(out, fl.ServerKeyFile), filepath.Join(out, fl.CACertFile))
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&out, "out", "", "directory to write (required)")
	f.IntVar(&n, "clients", 2, "client certificates to make")
	f.StringVar(&hosts, "hosts", "localhost,127.0.0.1,::1", "comma-separated names and addresses the server certificate is valid for")
	return c
}
