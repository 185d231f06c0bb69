package fl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/deepscope/deepscope/train"
)

// syncBuffer is a log that goroutines may write to together.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testbed is a CA with n client certificates, a site dataset per client
// and a loopback address.
type testbed struct {
	certs string
	sites []string
	log   *syncBuffer
}

func newTestbed(t *testing.T, n int) *testbed {
	t.Helper()
	tb := &testbed{certs: filepath.Join(t.TempDir(), "certs"), log: &syncBuffer{}}
	if err := MakeCerts(tb.certs, n, nil); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		tb.sites = append(tb.sites, synthData(t, 45, uint64(10+i)))
	}
	return tb
}

func (tb *testbed) serverConfig(t *testing.T, rounds int, out string) ServerConfig {
	r := tinyRecipe(rounds)
	return ServerConfig{Recipe: r, MinClients: 2, RoundTimeout: 4 * time.Second, JoinWindow: 300 * time.Millisecond,
		Linger: 3 * time.Second, Out: out, Log: tb.log}
}

// serve runs s on addr ("127.0.0.1:0" for any port) in the background and
// returns the address and a channel that yields Serve's result.
func (tb *testbed) serve(t *testing.T, ctx context.Context, s *Server, addr string) (string, chan error) {
	t.Helper()
	tc, err := ServerTLS(filepath.Join(tb.certs, ServerCertFile), filepath.Join(tb.certs, ServerKeyFile), filepath.Join(tb.certs, CACertFile))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- s.Serve(ctx, ln, tc) }()
	return ln.Addr().String(), errc
}

// client returns the configuration of client i (from 0) against addr.
func (tb *testbed) client(t *testing.T, i int, addr string) ClientConfig {
	t.Helper()
	name := fmt.Sprintf("client%d", i+1)
	tc, err := ClientTLS(filepath.Join(tb.certs, name+".pem"), filepath.Join(tb.certs, name+".key"), filepath.Join(tb.certs, CACertFile))
	if err != nil {
		t.Fatal(err)
	}
	return ClientConfig{Server: "https://" + addr, TLS: tc, Data: tb.sites[i], Poll: 50 * time.Millisecond,
		GiveUp: 30 * time.Second, Seed: uint64(i + 1), Workers: 1, Log: tb.log}
}

// runClients starts the clients and returns a channel of their results.
func runClients(ctx context.Context, cfgs []ClientConfig) []chan error {
	var out []chan error
	for _, c := range cfgs {
		ch := make(chan error, 1)
		go func() { ch <- RunClient(ctx, c) }()
		out = append(out, ch)
	}
	return out
}

func wait(t *testing.T, what string, ch chan error, d time.Duration) error {
	t.Helper()
	select {
	case err := <-ch:
		return err
	case <-time.After(d):
		t.Fatalf("%s: still running after %s", what, d)
		return nil
	}
}

// Three clients over mutual TLS; the third dies after downloading the
// weights of the first round. The round completes by quorum at its
// deadline, the second round runs with the two that are left, and a client
// whose certificate comes from another authority is refused.
func TestNetworkQuorumAndRefusal(t *testing.T) {
	tb := newTestbed(t, 3)
	out := filepath.Join(t.TempDir(), "run")
	s, err := NewServer(tb.serverConfig(t, 2, out))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	addr, served := tb.serve(t, ctx, s, "127.0.0.1:0")

	cfgs := []ClientConfig{tb.client(t, 0, addr), tb.client(t, 1, addr), tb.client(t, 2, addr)}
	dyingCtx, kill := context.WithCancel(ctx)
	cfgs[2].hook = func(stage string, round int) {
		if stage == "downloaded" && round == 0 {
			kill() // dies mid-round: weights in hand, no update sent
		}
	}
	results := runClients(ctx, cfgs[:2])
	dying := runClients(dyingCtx, cfgs[2:])

	// An impostor: a certificate named client1, signed by another CA.
	other := filepath.Join(t.TempDir(), "other")
	if err := MakeCerts(other, 1, nil); err != nil {
		t.Fatal(err)
	}
	itc, err := ClientTLS(filepath.Join(other, "client1.pem"), filepath.Join(other, "client1.key"), filepath.Join(tb.certs, CACertFile))
	if err != nil {
		t.Fatal(err)
	}
	impostor := tb.client(t, 0, addr)
	impostor.TLS = itc
	if err := wait(t, "impostor", runClients(ctx, []ClientConfig{impostor})[0], 30*time.Second); err == nil || !isTLSRefusal(err) {
		t.Errorf("impostor: error %v, want a refused TLS handshake", err)
	}

	if err := wait(t, "dying client", dying[0], time.Minute); !errors.Is(err, context.Canceled) {
		t.Errorf("dying client: %v", err)
	}
	for i, ch := range results {
		if err := wait(t, "client", ch, 2*time.Minute); err != nil {
			t.Errorf("client%d: %v\n%s", i+1, err, tb.log.String())
		}
	}
	if err := wait(t, "server", served, time.Minute); err != nil {
		t.Errorf("server: %v", err)
	}
	h := s.History()
	if len(h) != 2 || h[0].Clients != 2 || h[1].Clients != 2 {
		t.Fatalf("history %+v\n%s", h, tb.log.String())
	}
	log := tb.log.String()
	for _, want := range []string{
		"cohort of 3 (client1, client2, client3)",
		"deadline passed; aggregating the 2 updates of 3 clients",
		"all 2 rounds done",
	} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	if !strings.Contains(log, "TLS handshake error") {
		t.Errorf("the refused handshake is not logged:\n%s", log)
	}
	if _, err := train.Load(out); err != nil {
		t.Errorf("the run directory does not load: %v", err)
	}
	if testing.Verbose() {
		t.Log(log)
	}
}

// A server stopped after its first round and started again on the same
// run directory resumes at round 2; the clients ride out the gap.
func TestNetworkServerRestart(t *testing.T) {
	tb := newTestbed(t, 2)
	out := filepath.Join(t.TempDir(), "run")
	cfg := tb.serverConfig(t, 3, out)
	s1, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	ctx1, stop1 := context.WithCancel(ctx)
	addr, served1 := tb.serve(t, ctx1, s1, "127.0.0.1:0")
	results := runClients(ctx, []ClientConfig{tb.client(t, 0, addr), tb.client(t, 1, addr)})
	for s1.Round() < 1 {
		time.Sleep(20 * time.Millisecond)
	}
	stop1()
	if err := wait(t, "first server", served1, time.Minute); !errors.Is(err, context.Canceled) {
		t.Fatalf("first server: %v", err)
	}
	if _, err := os.Stat(filepath.Join(out, StateFile)); err != nil {
		t.Fatal(err)
	}
	s2, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if r := s2.Round(); r < 1 {
		t.Fatalf("restarted server at round %d, want at least 1", r)
	}
	_, served2 := tb.serve(t, ctx, s2, addr)
	for i, ch := range results {
		if err := wait(t, "client", ch, 2*time.Minute); err != nil {
			t.Errorf("client%d: %v\n%s", i+1, err, tb.log.String())
		}
	}
	if err := wait(t, "second server", served2, time.Minute); err != nil {
		t.Errorf("second server: %v", err)
	}
	h := s2.History()
	if len(h) != 3 {
		t.Fatalf("history of %d rounds, want 3\n%s", len(h), tb.log.String())
	}
	for i, r := range h {
		if r.Round != i+1 || r.Clients != 2 {
			t.Errorf("history line %d: %+v", i, r)
		}
	}
	if !strings.Contains(tb.log.String(), "resuming "+out+" after round") {
		t.Errorf("no resume message:\n%s", tb.log.String())
	}
}

// Secure aggregation end to end: two clients mask their updates, the
// server unmasks the sum, and the rounds complete.
func TestNetworkSecureAggregation(t *testing.T) {
	tb := newTestbed(t, 2)
	cfg := tb.serverConfig(t, 2, filepath.Join(t.TempDir(), "run"))
	cfg.Secure = true
	s, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	addr, served := tb.serve(t, ctx, s, "127.0.0.1:0")
	for i, ch := range runClients(ctx, []ClientConfig{tb.client(t, 0, addr), tb.client(t, 1, addr)}) {
		if err := wait(t, "client", ch, 2*time.Minute); err != nil {
			t.Errorf("client%d: %v\n%s", i+1, err, tb.log.String())
		}
	}
	if err := wait(t, "server", served, time.Minute); err != nil {
		t.Errorf("server: %v", err)
	}
	if h := s.History(); len(h) != 2 || h[1].Clients != 2 || !(h[1].TrainLoss > 0) {
		t.Errorf("history %+v\n%s", h, tb.log.String())
	}
}

// A client in the cohort that uploads a malformed update is refused with
// 400, the rejection is logged, and the round is abandoned for want of a
// quorum rather than aggregated with it.
func TestNetworkRejectsMalformedUpload(t *testing.T) {
	tb := newTestbed(t, 1)
	cfg := tb.serverConfig(t, 1, filepath.Join(t.TempDir(), "run"))
	cfg.MinClients = 1
	s, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	addr, _ := tb.serve(t, ctx, s, "127.0.0.1:0")
	c := &client{cfg: tb.client(t, 0, addr), log: tb.log}
	if err := c.setup(); err != nil {
		t.Fatal(err)
	}
	ri := roundInfo(t, ctx, c)
	if err := c.join(ctx, ri); err != nil {
		t.Fatal(err)
	}
	for ri.Phase != PhaseTrain || !ri.Member {
		time.Sleep(20 * time.Millisecond)
		ri = roundInfo(t, ctx, c)
	}
	if err := c.prepare(ri, ri.Local); err != nil {
		t.Fatal(err)
	}
	bad := make([]float32, c.layout.Total)
	bad[5] = float32(nan())
	body, err := c.layout.EncodeVector(bad, map[string]string{MetaToken: ri.Token})
	if err != nil {
		t.Fatal(err)
	}
	code, msg, err := c.call(ctx, "POST", PathUpdate, body, time.Minute)
	if err != nil || code != 400 || !strings.Contains(string(msg), "holds NaN") {
		t.Fatalf("NaN update: status %d, %q, %v", code, msg, err)
	}
	// The round was abandoned at once (its only update rejected), so a
	// second try finds no cohort to report to.
	if code, _, _ := c.call(ctx, "POST", PathUpdate, body, time.Minute); code != 409 {
		t.Errorf("second upload: status %d, want 409", code)
	}
	log := tb.log.String()
	if !strings.Contains(log, "rejected client1: fl: tensor") || !strings.Contains(log, "round abandoned") {
		t.Errorf("log:\n%s", log)
	}
	if s.Round() != 0 {
		t.Errorf("a round with only a rejected update was aggregated")
	}
}

func roundInfo(t *testing.T, ctx context.Context, c *client) RoundInfo {
	t.Helper()
	code, b, err := c.call(ctx, "GET", PathRound, nil, time.Minute)
	if err != nil || code != 200 {
		t.Fatalf("round: %d %v", code, err)
	}
	var ri RoundInfo
	if err := json.Unmarshal(b, &ri); err != nil {
		t.Fatal(err)
	}
	return ri
}

func nan() float64 { return math.NaN() }
