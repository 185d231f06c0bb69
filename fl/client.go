package fl

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/deepscope/deepscope/data"
	"github.com/deepscope/deepscope/nn"
)

// ClientConfig is one site taking part in federated training.
type ClientConfig struct {
	Server string      // the server's URL, https://host:port
	TLS    *tls.Config // the site's certificate and the authority it trusts (see ClientTLS)
	// Data is the site's dataset. Its train split is trained on and its
	// val split measures each global model; without splits, a seeded 10%
	// is held out for validation.
	Data    string
	Poll    time.Duration // between polls of the server; default 2 s
	GiveUp  time.Duration // stop after the server has been unreachable this long; default 10 minutes
	Seed    uint64        // seeds the shuffles and augmentation
	Workers int           // image decoding goroutines; 0: one per core
	Log     io.Writer

	hook func(stage string, round int) // tests: called after "downloaded"
}

// client is a running ClientConfig.
type client struct {
	cfg   ClientConfig
	log   io.Writer
	name  string // common name of the certificate, as the server knows it
	http  *http.Client
	base  *url.URL
	site  *data.Dataset // as opened, all splits
	train *data.Dataset
	val   *data.Dataset
	stats *ImageStats

	net      nn.Module
	layout   *Layout
	loader   *data.Loader
	loaderOf LocalConfig // settings loader was made for
	valL     *data.Loader

	joined   string // token of the attempt joined
	key      *ecdh.PrivateKey
	reported string // token of the attempt reported
}

// errPermanent marks an error that retrying will not cure.
type errPermanent struct{ err error }

func (e errPermanent) Error() string { return e.err.Error() }
func (e errPermanent) Unwrap() error { return e.err }

// RunClient takes part in the server's rounds until training is done (nil),
// ctx is cancelled, the server refuses the site (its certificate, or its
// classes), or the server stays unreachable for GiveUp.
func RunClient(ctx context.Context, cfg ClientConfig) error {
	if cfg.Poll <= 0 {
		cfg.Poll = 2 * time.Second
	}
	if cfg.GiveUp <= 0 {
		cfg.GiveUp = 10 * time.Minute
	}
	c := &client{cfg: cfg, log: cfg.Log}
	if c.log == nil {
		c.log = io.Discard
	}
	if err := c.setup(); err != nil {
		return err
	}
	var failingSince time.Time
	for {
		err := c.step(ctx)
		var perm errPermanent
		switch {
		case err == nil:
			failingSince = time.Time{}
		case errors.Is(err, errFinished):
			return nil
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.As(err, &perm) || isTLSRefusal(err):
			return err
		default:
			if failingSince.IsZero() {
				failingSince = time.Now()
			}
			if time.Since(failingSince) > cfg.GiveUp {
				return fmt.Errorf("fl: giving up after %s: %w", cfg.GiveUp.Round(time.Second), err)
			}
			fmt.Fprintf(c.log, "fl client %s: %v; retrying\n", c.name, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(cfg.Poll):
		}
	}
}

var errFinished = errors.New("fl: training finished")

// isTLSRefusal reports whether err is the server refusing this client's
// certificate, or this client refusing the server's.
func isTLSRefusal(err error) bool {
	var alert tls.AlertError
	var op *net.OpError // an alert received from the server reads "remote error"
	var verify *tls.CertificateVerificationError
	var unknown x509.UnknownAuthorityError
	var host x509.HostnameError
	return errors.As(err, &alert) || (errors.As(err, &op) && op.Op == "remote error") || errors.As(err, &verify) || errors.As(err, &unknown) || errors.As(err, &host)
}

// setup checks the configuration and opens the site's data.
func (c *client) setup() error {
	u, err := url.Parse(c.cfg.Server)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return fmt.Errorf("fl: server %q: want https://host:port", c.cfg.Server)
	}
	c.base = u
	if c.cfg.TLS == nil || len(c.cfg.TLS.Certificates) == 0 {
		return fmt.Errorf("fl: a client certificate is required")
	}
	leaf, err := x509.ParseCertificate(c.cfg.TLS.Certificates[0].Certificate[0])
	if err != nil {
		return fmt.Errorf("fl: client certificate: %w", err)
	}
	c.name = leaf.Subject.CommonName
	c.http = &http.Client{Transport: &http.Transport{TLSClientConfig: c.cfg.TLS, ForceAttemptHTTP2: true}}
	ds, err := data.Open(c.cfg.Data)
	if err != nil {
		return err
	}
	if ds.MultiLabel {
		return fmt.Errorf("fl: %s is multi-label; federated training handles single-label classes", c.cfg.Data)
	}
	if slices.ContainsFunc(ds.Items, func(it data.Item) bool { return it.Split == "" }) {
		if ds, err = data.Split(ds, data.SplitConfig{Val: 0.1, Seed: c.cfg.Seed, Resplit: true}); err != nil {
			return err
		}
	}
	c.site = ds
	c.train, c.val = ds.Subset(data.Train), ds.Subset(data.Val)
	if c.train.Len() < 2 {
		return fmt.Errorf("fl: %s has %d training images; at least 2 are needed", c.cfg.Data, c.train.Len())
	}
	fmt.Fprintf(c.log, "fl client %s: %s: %d training and %d validation images\n", c.name, c.cfg.Data, c.train.Len(), c.val.Len())
	return nil
}

// call sends one request and returns the status and body.
func (c *client) call(ctx context.Context, method, path string, body []byte, timeout time.Duration) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, c.base.JoinPath(path).String(), bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<30))
	return resp.StatusCode, b, err
}

// step polls the round once and acts on it.
func (c *client) step(ctx context.Context) error {
	code, b, err := c.call(ctx, http.MethodGet, PathRound, nil, time.Minute)
	if err != nil {
		return err
	}
	if code != http.StatusOK {
		return fmt.Errorf("fl: %s: %s", PathRound, bytes.TrimSpace(b))
	}
	var ri RoundInfo
	if err := json.Unmarshal(b, &ri); err != nil {
		return fmt.Errorf("fl: %s: %w", PathRound, err)
	}
	switch ri.Phase {
	case PhaseDone:
		fmt.Fprintf(c.log, "fl client %s: training finished after %d rounds\n", c.name, ri.Rounds)
		return errFinished
	case PhaseJoin:
		if c.joined != ri.Token {
			return c.join(ctx, ri)
		}
	case PhaseTrain:
		if ri.Member && !ri.Reported && ri.Token == c.joined && c.reported != ri.Token {
			return c.round(ctx, ri)
		}
	}
	return nil
}

// join asks to be in the cohort of the attempt ri.Token.
func (c *client) join(ctx context.Context, ri RoundInfo) error {
	req := JoinRequest{Token: ri.Token, Samples: c.train.Len(), Classes: c.site.Classes}
	if ri.Mean == nil {
		if c.stats == nil {
			st, err := MeasureStats(c.train, data.Preprocess{Size: ri.Size, Crop: ri.Crop, Channels: 3}, c.cfg.Seed)
			if err != nil {
				return errPermanent{err}
			}
			c.stats = &st
		}
		req.Stats = c.stats
	}
	var key *ecdh.PrivateKey
	if ri.Secure {
		var err error
		if key, err = NewMaskKey(); err != nil {
			return err
		}
		req.PublicKey = key.PublicKey().Bytes()
	}
	body, _ := json.Marshal(req)
	code, b, err := c.call(ctx, http.MethodPost, PathJoin, body, time.Minute)
	switch {
	case err != nil:
		return err
	case code == http.StatusNoContent:
		c.joined, c.key = ri.Token, key
		fmt.Fprintf(c.log, "fl client %s: joined round %d/%d\n", c.name, ri.Round+1, ri.Rounds)
		return nil
	case code == http.StatusConflict:
		return nil // the cohort closed meanwhile: wait for the next
	default:
		return errPermanent{fmt.Errorf("fl: the server refused to let %s join: %s", c.name, bytes.TrimSpace(b))}
	}
}

// prepare builds the model and loaders once the run's classes and
// normalisation are known, mapping the site's labels onto the run's
// classes.
func (c *client) prepare(ri RoundInfo, lc LocalConfig) error {
	if c.net == nil {
		if err := remapClasses(c.train, ri.Classes); err != nil {
			return errPermanent{err}
		}
		if err := remapClasses(c.val, ri.Classes); err != nil {
			return errPermanent{err}
		}
		r := Recipe{Model: ri.Model, Size: ri.Size, Crop: ri.Crop}
		net, err := r.newModel(len(ri.Classes))
		if err != nil {
			return errPermanent{err}
		}
		c.net, c.layout = net, NewLayout(net)
	}
	pre := data.Preprocess{Size: ri.Size, Crop: ri.Crop, Channels: 3}
	norm := data.Normalize{Mean: ri.Mean, Std: ri.Std}
	if c.loader == nil || c.loaderOf.Batch != lc.Batch || c.loaderOf.Augment != lc.Augment {
		l, err := trainLoader(c.train, pre, norm, lc, c.cfg.Seed)
		if err != nil {
			return errPermanent{err}
		}
		c.loader, c.loaderOf = l, lc
	}
	if c.valL == nil && c.val.Len() > 0 {
		l, err := evalLoader(c.val, pre, norm, c.cfg.Workers)
		if err != nil {
			return errPermanent{err}
		}
		c.valL = l
	}
	return nil
}

// remapClasses rewrites ds's labels as indices into classes, the run's
// class list, which must hold every class of ds.
func remapClasses(ds *data.Dataset, classes []string) error {
	idx := make([]int, len(ds.Classes))
	for i, name := range ds.Classes {
		idx[i] = slices.Index(classes, name)
		if idx[i] < 0 {
			return fmt.Errorf("fl: class %q of %s is not one of the run's classes %v", name, ds.Root, classes)
		}
	}
	items := slices.Clone(ds.Items)
	for i := range items {
		items[i].Label = idx[items[i].Label]
	}
	ds.Items, ds.Classes = items, slices.Clone(classes)
	return nil
}

// round trains the global model of ri on the site's images and uploads
// the update.
func (c *client) round(ctx context.Context, ri RoundInfo) error {
	lc := ri.Local
	lc.Workers = c.cfg.Workers
	if err := c.prepare(ri, lc); err != nil {
		return err
	}
	code, b, err := c.call(ctx, http.MethodGet, PathWeights, nil, 10*time.Minute)
	if err != nil {
		return err
	}
	if code != http.StatusOK {
		return fmt.Errorf("fl: %s: %s", PathWeights, bytes.TrimSpace(b))
	}
	if _, err := loadState(c.net, b); err != nil {
		return err
	}
	if c.cfg.hook != nil {
		c.cfg.hook("downloaded", ri.Round)
	}
	t0 := time.Now()
	global := c.layout.Flatten(c.net, nil)
	meta := map[string]string{MetaToken: ri.Token}
	if c.valL != nil {
		correct, total, err := Accuracy(c.net, c.valL)
		if err != nil {
			return err
		}
		meta[MetaValCorrect], meta[MetaValTotal] = strconv.Itoa(correct), strconv.Itoa(total)
	}
	st, err := TrainLocal(ctx, c.net, c.loader, lc, ri.Round, c.cfg.Seed^uint64(ri.Round+1)*0x9E3779B97F4A7C15)
	if err != nil {
		return err
	}
	meta[MetaLoss] = strconv.FormatFloat(st.Loss, 'g', 6, 64)
	delta := c.layout.Flatten(c.net, nil)
	for i, v := range global {
		delta[i] -= v
	}
	var body []byte
	if ri.Secure {
		peers := make([]Peer, len(ri.Cohort))
		total := 0
		for i, m := range ri.Cohort {
			peers[i] = Peer{ID: m.ID, PublicKey: m.PublicKey}
			total += m.Samples
		}
		masked, clamped, err := maskedUpdate(c.key, c.name, peers, ri.Token, cohortWeight(lc.Clip > 0, c.train.Len(), total, len(peers)), lc.Clip, delta)
		if err != nil {
			return err
		}
		meta[MetaClamped] = strconv.Itoa(clamped)
		body, err = encodeMasked(masked, meta)
		if err != nil {
			return err
		}
	} else if body, err = c.layout.EncodeVector(delta, meta); err != nil {
		return err
	}
	code, b, err = c.call(ctx, http.MethodPost, PathUpdate, body, 10*time.Minute)
	if err != nil {
		return err
	}
	c.reported = ri.Token
	switch code {
	case http.StatusNoContent:
		fmt.Fprintf(c.log, "fl client %s: round %d/%d: %d steps, loss %.4f, %.1fs; update sent\n", c.name, ri.Round+1, ri.Rounds, st.Steps, st.Loss, time.Since(t0).Seconds())
	default:
		fmt.Fprintf(c.log, "fl client %s: round %d/%d: update not taken: %s\n", c.name, ri.Round+1, ri.Rounds, bytes.TrimSpace(b))
	}
	return nil
}
