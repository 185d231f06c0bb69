package shift

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/deepscope/deepscope/transform"
)

// Shift is one named, fixed change of images.
type Shift struct {
	Name      string // also the group name in a written manifest
	Transform transform.Transform
}

// Presets of the simulated lab shifts Parse knows. Their parameters are
// fixed so that a shifted set can be rebuilt exactly from its name.
var (
	// StrongerStain: more haematoxylin and less eosin, as a longer
	// staining time or another batch of Giemsa gives (purpler nuclei,
	// paler red cells).
	StrongerStain = transform.Restain{Alpha: [3]float64{1.5, 0.6, 1}, Beta: [3]float64{0.05, 0, 0}}
	// CoolLight: a bluish-grey background instead of a warm one, as
	// another lamp or camera white balance gives.
	CoolLight = transform.Relight{Light: [3]float32{0.84, 0.88, 0.96}}
)

// Names lists the shift names Parse accepts, for messages and help.
const Names = "rescale:F (magnification times F, e.g. rescale:2 or rescale:0.6), restain, relight, site (restain and relight together)"

var nameRE = regexp.MustCompile(`^[a-z]+(:[0-9.]+)?$`)

// Parse reads one shift by name:
//
//	rescale:F  transform.Rescale{F}: the cell F times as large in the frame
//	restain    StrongerStain
//	relight    CoolLight
//	site       restain then relight: a second site's stain and light
func Parse(name string) (Shift, error) {
	name = strings.TrimSpace(strings.ToLower(name))
	if !nameRE.MatchString(name) {
		return Shift{}, fmt.Errorf("shift: %q is not a shift (known: %s)", name, Names)
	}
	kind, arg, hasArg := strings.Cut(name, ":")
	noArg := func(t transform.Transform) (Shift, error) {
		if hasArg {
			return Shift{}, fmt.Errorf("shift: %q takes no parameter", kind)
		}
		return Shift{name, t}, nil
	}
	switch kind {
	case "rescale":
		f, err := strconv.ParseFloat(arg, 64)
		if !hasArg || err != nil || !(f >= 0.2 && f <= 5) || f == 1 {
			return Shift{}, fmt.Errorf("shift: %q: want rescale:F with F in [0.2, 5], not 1", name)
		}
		return Shift{name, transform.Rescale{Factor: f}}, nil
	case "restain":
		return noArg(StrongerStain)
	case "relight":
		return noArg(CoolLight)
	case "site":
		return noArg(transform.Compose(StrongerStain, CoolLight))
	}
	return Shift{}, fmt.Errorf("shift: unknown shift %q (known: %s)", name, Names)
}

// ParseList reads a comma-separated list of shifts; a name given twice is
// an error.
func ParseList(list string) ([]Shift, error) {
	var out []Shift
	seen := map[string]bool{}
	for _, n := range strings.Split(list, ",") {
		if strings.TrimSpace(n) == "" {
			continue
		}
		s, err := Parse(n)
		if err != nil {
			return nil, err
		}
		if seen[s.Name] {
			return nil, fmt.Errorf("shift: %q listed twice", s.Name)
		}
		seen[s.Name] = true
		out = append(out, s)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("shift: no shift named (known: %s)", Names)
	}
	return out, nil
}
