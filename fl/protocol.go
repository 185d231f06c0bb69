package fl

import (
	"crypto/rand"
	"encoding/hex"
	"time"
)

// Phases of a round, as RoundInfo.Phase names them.
const (
	PhaseJoin  = "join"  // the cohort is open: clients join
	PhaseTrain = "train" // the cohort is fixed: its members train and upload
	PhaseDone  = "done"  // every round is aggregated
)

// Paths of the server's HTTP API.
const (
	PathRound   = "/v1/round"   // GET: RoundInfo
	PathJoin    = "/v1/join"    // POST: JoinRequest
	PathWeights = "/v1/weights" // GET: the global model, safetensors
	PathUpdate  = "/v1/update"  // POST: an update, safetensors
)

// RoundInfo is the server's answer to GET /v1/round: where the run stands
// and everything a client needs to take part.
type RoundInfo struct {
	Round  int    `json:"round"` // 0-based round in progress (Rounds when done)
	Rounds int    `json:"rounds"`
	Phase  string `json:"phase"`
	// Token names this attempt at the round: a round that is abandoned is
	// run again under a new token. Joins and uploads carry it.
	Token    string    `json:"token"`
	Deadline time.Time `json:"deadline,omitzero"` // train phase: when the server stops waiting

	Model   string      `json:"model"`
	Size    int         `json:"size"`
	Crop    float64     `json:"crop"`
	Classes []string    `json:"classes,omitempty"` // nil until the first cohort fixes them
	Mean    []float32   `json:"mean,omitempty"`    // normalisation; nil until the first cohort fixes it
	Std     []float32   `json:"std,omitempty"`
	Local   LocalConfig `json:"local"` // this round's local training
	Secure  bool        `json:"secure,omitempty"`

	Cohort   []CohortMember `json:"cohort,omitempty"` // train phase: the members
	Member   bool           `json:"member"`           // the asking client is in the cohort
	Reported bool           `json:"reported"`         // and has uploaded
}

// CohortMember is one client of a round's cohort: its name, the images it
// trains on (its weight in FedAvg) and, under secure aggregation, its
// public key for the round.
type CohortMember struct {
	ID        string `json:"id"`
	Samples   int    `json:"samples"`
	PublicKey []byte `json:"public_key,omitempty"`
}

// JoinRequest is what a client sends to join the round's cohort.
type JoinRequest struct {
	Token     string      `json:"token"`
	Samples   int         `json:"samples"`              // training images
	Classes   []string    `json:"classes"`              // class names of the site's data
	Stats     *ImageStats `json:"stats,omitempty"`      // needed while the server has no normalisation
	PublicKey []byte      `json:"public_key,omitempty"` // X25519, needed under secure aggregation
}

// Metadata keys of an uploaded update (safetensors metadata strings).
const (
	MetaToken      = "token"
	MetaLoss       = "loss"        // mean local training loss
	MetaValCorrect = "val_correct" // the global model's correct answers on the site's validation images
	MetaValTotal   = "val_total"
	MetaClamped    = "clamped" // values clamped by fixed-point encoding (secure aggregation)
)

// newToken returns 8 random bytes in hex.
func newToken() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
