package fl

import (
	crand "crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"

	"github.com/deepscope/deepscope/nn"
)

// serverState is what a server keeps across restarts, in the metadata of
// its state file beside the global model's weights.
type serverState struct {
	Round   int        `json:"round"` // rounds aggregated
	Recipe  Recipe     `json:"recipe"`
	Classes []string   `json:"classes"`
	Mean    []float32  `json:"mean"`
	Std     []float32  `json:"std"`
	Known   []string   `json:"known"` // clients seen in any cohort
	History []RoundLog `json:"history"`
}

// stateFormat marks a server state file.
const stateFormat = "deepscope-fl-1"

// save writes the global model and the state together to the state file
// (a temporary file renamed over the old one, so a crash leaves one or the
// other), then the run files derived from them: run.json,
// best.safetensors and rounds.jsonl.
func (s *Server) save() error {
	meta, err := json.Marshal(s.st)
	if err != nil {
		return err
	}
	var sd []nn.NamedTensor
	if s.net != nil {
		sd = nn.StateDict(s.net)
	}
	if err := nn.WriteStateFile(filepath.Join(s.cfg.Out, StateFile), sd, map[string]string{"format": stateFormat, "state": string(meta)}); err != nil {
		return err
	}
	return s.writeDerived()
}

// writeDerived writes run.json, best.safetensors and rounds.jsonl from the
// state in memory.
func (s *Server) writeDerived() error {
	if s.net != nil && s.st.Mean != nil {
		info := s.cfg.runInfo("", s.st.Classes, s.st.Mean, s.st.Std, s.cfg.Version)
		if err := writeRunFiles(s.cfg.Out, info, s.net, s.st.Round); err != nil {
			return err
		}
	}
	return writeRounds(s.cfg.Out, s.st.History)
}

// loadState resumes the run in cfg.Out, if there is one.
func (s *Server) loadState() (bool, error) {
	path := filepath.Join(s.cfg.Out, StateFile)
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	sd, meta, err := nn.ReadStateFile(path)
	if err != nil {
		return false, err
	}
	if meta["format"] != stateFormat {
		return false, fmt.Errorf("fl: %s is not a federated server's state (format %q)", path, meta["format"])
	}
	var st serverState
	if err := json.Unmarshal([]byte(meta["state"]), &st); err != nil {
		return false, fmt.Errorf("fl: %s: bad state: %w", path, err)
	}
	old, now := st.Recipe, s.cfg.Recipe
	if old.Model != now.Model || old.Size != now.Size || old.Crop != now.Crop {
		return false, fmt.Errorf("fl: %s holds a run of %s at %d px (crop %g), not %s at %d px (crop %g); choose another --out",
			s.cfg.Out, old.Model, old.Size, old.Crop, now.Model, now.Size, now.Crop)
	}
	if len(s.cfg.Classes) > 0 && st.Classes != nil && !slices.Equal(s.cfg.Classes, st.Classes) {
		return false, fmt.Errorf("fl: %s was trained for classes %v, not %v", s.cfg.Out, st.Classes, s.cfg.Classes)
	}
	st.Recipe = now
	s.st = st
	if st.Classes != nil {
		if err := s.buildModel(); err != nil {
			return false, err
		}
		if err := nn.LoadStateDict(s.net, sd, true); err != nil {
			return false, fmt.Errorf("fl: %s: %w", path, err)
		}
		s.w = s.layout.Flatten(s.net, s.w)
	}
	if err := s.writeDerived(); err != nil {
		return false, err
	}
	s.logf("resuming %s after round %d of %d", s.cfg.Out, st.Round, s.cfg.Rounds)
	return true, nil
}

// secureRand returns a ChaCha8 generator seeded from crypto/rand, for the
// DP noise: noise an adversary could predict would protect nothing.
func secureRand() *rand.Rand {
	var seed [32]byte
	crand.Read(seed[:])
	return rand.New(rand.NewChaCha8(seed))
}
