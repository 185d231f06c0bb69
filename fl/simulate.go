package fl

import (
	"context"
	"crypto/ecdh"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"time"

	"github.com/deepscope/deepscope/data"
	"github.com/deepscope/deepscope/nn"
	"github.com/deepscope/deepscope/privacy"
	"github.com/deepscope/deepscope/train"
)

// SimConfig is a federated run simulated in one process: the training
// split of Data is partitioned among Clients, every client takes part in
// every round, the validation split measures the global model after each
// round and the test split at the end.
type SimConfig struct {
	Recipe
	Data      string // dataset with train/val/test splits (a seeded 70/10/20 split is drawn if it has none)
	Clients   int    // simulated clients (0 with partition "site": one per site)
	Partition string // iid, dirichlet:ALPHA or site (see Partition)
	Out       string // optional run directory: run.json, best.safetensors, rounds.jsonl
	Log       io.Writer
	Version   string // deepscope version recorded in run.json
}

// SimResult is what a simulation measured.
type SimResult struct {
	ClientSizes  []int             // training images per client
	ClientLabels [][]int           // per client, images per class
	Rounds       []RoundLog        // one per round
	Test         *train.Evaluation // the final model on the test split (nil without one)
	Model        nn.Module         // the final global model, in evaluation mode
	// Epsilon is the client-level privacy spent at Delta under DP with
	// noise (0 otherwise): every client takes part in every round, so the
	// rounds compose without amplification by sampling.
	Epsilon, Delta float64
}

// simClient is one simulated site.
type simClient struct {
	name   string
	ds     *data.Dataset
	loader *data.Loader
}

// Simulate runs cfg's rounds and returns what it measured.
func Simulate(ctx context.Context, cfg SimConfig) (*SimResult, error) {
	log := cfg.Log
	if log == nil {
		log = io.Discard
	}
	cfg.Recipe = cfg.Recipe.withDefaults()
	if err := cfg.Recipe.Validate(); err != nil {
		return nil, err
	}
	ds, err := data.Open(cfg.Data)
	if err != nil {
		return nil, err
	}
	if ds.MultiLabel {
		return nil, fmt.Errorf("fl: %s is multi-label; federated training handles single-label classes", cfg.Data)
	}
	if ds, err = data.Split(ds, data.SplitConfig{Val: 0.1, Test: 0.2, Seed: cfg.Seed}); err != nil {
		return nil, err
	}
	trainDS, valDS, testDS := ds.Subset(data.Train), ds.Subset(data.Val), ds.Subset(data.Test)
	if trainDS.Len() == 0 || valDS.Len() == 0 {
		return nil, fmt.Errorf("fl: %s has %d training and %d validation images; both are needed", cfg.Data, trainDS.Len(), valDS.Len())
	}
	parts, err := Partition(trainDS, cfg.Clients, cfg.Partition, cfg.Seed)
	if err != nil {
		return nil, err
	}
	pre := cfg.preprocess()
	res := &SimResult{}
	var stats []ImageStats
	for c, p := range parts {
		st, err := MeasureStats(p, pre, cfg.Seed+uint64(c))
		if err != nil {
			return nil, err
		}
		stats = append(stats, st)
		res.ClientSizes = append(res.ClientSizes, p.Len())
		res.ClientLabels = append(res.ClientLabels, p.ClassCounts())
	}
	mean, std, err := PoolStats(stats)
	if err != nil {
		return nil, err
	}
	norm := data.Normalize{Mean: mean, Std: std}
	clients := make([]*simClient, len(parts))
	for c, p := range parts {
		l, err := trainLoader(p, pre, norm, cfg.Local, cfg.Seed^uint64(c+1)*0x9E3779B97F4A7C15)
		if err != nil {
			return nil, fmt.Errorf("fl: client %d: %w", c+1, err)
		}
		clients[c] = &simClient{name: fmt.Sprintf("client%d", c+1), ds: p, loader: l}
		fmt.Fprintf(log, "%s: %d images, per class %v\n", clients[c].name, p.Len(), res.ClientLabels[c])
	}
	val, err := evalLoader(valDS, pre, norm, cfg.Local.Workers)
	if err != nil {
		return nil, err
	}
	glob, err := cfg.newModel(len(ds.Classes))
	if err != nil {
		return nil, err
	}
	local, err := cfg.newModel(len(ds.Classes))
	if err != nil {
		return nil, err
	}
	layout := NewLayout(glob)
	w := layout.Flatten(glob, nil)
	noise := rand.New(rand.NewPCG(cfg.Seed, 0xd9))
	info := cfg.runInfo(cfg.Data, ds.Classes, mean, std, cfg.Version)
	if cfg.Out != "" {
		if err := os.MkdirAll(cfg.Out, 0o755); err != nil {
			return nil, fmt.Errorf("fl: %w", err)
		}
	}
	fmt.Fprintf(log, "%s: %d parameters; %d clients, %s; %d rounds of %d local epochs, %s%s\n",
		cfg.Model, nn.NumParams(glob), len(clients), cfg.Partition, cfg.Rounds, cfg.Local.Epochs, cfg.Aggregate.Method, secureNote(cfg.Recipe))
	for r := range cfg.Rounds {
		t0 := time.Now()
		lc := cfg.RoundLocal(r)
		rl := RoundLog{Round: r + 1, LR: lc.LR}
		var updates []Update
		var sum []uint32
		var keys map[string]*ecdh.PrivateKey
		var peers []Peer
		if cfg.Secure {
			if keys, peers, err = newCohortKeys(clients); err != nil {
				return nil, err
			}
		}
		total := 0
		for _, c := range clients {
			total += c.ds.Len()
		}
		for ci, c := range clients {
			if err := nn.LoadStateDict(local, nn.StateDict(glob), true); err != nil {
				return nil, err
			}
			st, err := TrainLocal(ctx, local, c.loader, lc, r, cfg.Seed+uint64(r*len(clients)+ci))
			if err != nil {
				return nil, fmt.Errorf("fl: %s, round %d: %w", c.name, r+1, err)
			}
			delta := layout.Flatten(local, nil)
			for i, v := range w {
				delta[i] -= v
			}
			rl.TrainLoss += st.Loss * float64(c.ds.Len()) / float64(total)
			rl.Clients++
			rl.Samples += c.ds.Len()
			if !cfg.Secure {
				updates = append(updates, Update{Client: c.name, Samples: c.ds.Len(), Delta: delta})
				continue
			}
			masked, _, err := maskedUpdate(keys[c.name], c.name, peers, fmt.Sprint(r), cohortWeight(cfg.Aggregate.DP.Clip > 0, c.ds.Len(), total, len(clients)), lc.Clip, delta)
			if err != nil {
				return nil, err
			}
			if sum == nil {
				sum = masked
			} else {
				SumMasked(sum, masked)
			}
		}
		var step []float32
		if cfg.Secure {
			step = unmaskedStep(sum, len(clients), cfg.Aggregate.DP, noise)
		} else {
			if step, rl.Rejected, err = Combine(updates, cfg.Aggregate, noise); err != nil {
				return nil, err
			}
			for _, rj := range rl.Rejected {
				fmt.Fprintf(log, "round %d: rejected %s: %s\n", r+1, rj.Client, rj.Reason)
			}
		}
		layout.Apply(w, step)
		layout.Load(glob, w)
		correct, n, err := Accuracy(glob, val)
		if err != nil {
			return nil, err
		}
		rl.ValAccuracy = float64(correct) / float64(n)
		rl.Seconds = time.Since(t0).Seconds()
		res.Rounds = append(res.Rounds, rl)
		fmt.Fprintf(log, "round %d/%d  clients %d  train loss %.4f  val acc %.4f  lr %.2g  %.1fs\n",
			r+1, cfg.Rounds, rl.Clients, rl.TrainLoss, rl.ValAccuracy, lc.LR, rl.Seconds)
		if cfg.Out != "" {
			if err := writeRunFiles(cfg.Out, info, glob, r+1); err != nil {
				return nil, err
			}
			if err := writeRounds(cfg.Out, res.Rounds); err != nil {
				return nil, err
			}
		}
	}
	res.Model = glob
	if dp := cfg.Aggregate.DP; dp.Clip > 0 && dp.Noise > 0 {
		res.Delta = 1e-5
		if res.Epsilon, err = privacy.Epsilon(1, dp.Noise, cfg.Rounds, res.Delta); err != nil {
			return nil, err
		}
	}
	if testDS.Len() > 0 {
		tl, err := evalLoader(testDS, pre, norm, cfg.Local.Workers)
		if err != nil {
			return nil, err
		}
		if res.Test, err = train.Evaluate(glob, tl, info, train.EvalOptions{Resamples: -1}); err != nil {
			return nil, err
		}
	}
	return res, nil
}

func secureNote(r Recipe) string {
	s := ""
	if r.Secure {
		s += ", secure aggregation"
	}
	if r.Aggregate.DP.Clip > 0 {
		s += fmt.Sprintf(", client-level DP (clip %g, noise %g)", r.Aggregate.DP.Clip, r.Aggregate.DP.Noise)
	}
	return s
}

// newCohortKeys draws a fresh masking key for every simulated client and
// returns the keys by name and the cohort as the server would list it.
func newCohortKeys(clients []*simClient) (map[string]*ecdh.PrivateKey, []Peer, error) {
	keys := map[string]*ecdh.PrivateKey{}
	var peers []Peer
	for _, c := range clients {
		k, err := NewMaskKey()
		if err != nil {
			return nil, nil, err
		}
		keys[c.name] = k
		peers = append(peers, Peer{ID: c.name, PublicKey: k.PublicKey().Bytes()})
	}
	return keys, peers, nil
}
