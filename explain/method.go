package explain

import (
	"fmt"
	"sort"
	"strings"

	"github.com/deepscope/deepscope/nn"
	"github.com/deepscope/deepscope/tensor"
)

// Method is an attribution method: Explain returns a map [H, W] for one
// normalised image x [1, H, W, C] in which larger values mean more
// evidence for class. Implementations must return errors, not panic, for
// inputs a user can get wrong.
type Method interface {
	// Name is the method's name in the registry ("gradcam", "ig", ...).
	Name() string
	// Explain computes the map of class for x with model m.
	Explain(m nn.Module, x *tensor.Tensor, class int) (*tensor.Tensor, error)
}

// Options configure methods made by New. Each method reads the fields that
// concern it; zero values mean each method's defaults.
type Options struct {
	Batch    int       // images per forward pass (DefaultBatch)
	Seed     uint64    // seed of the random draws (SmoothGrad, LIME, SHAP, random)
	Baseline Baseline  // reference image (integrated gradients, occlusion, LIME, SHAP)
	Black    []float32 // the normalised value of black per channel, for BaselineBlack
	Steps    int       // integrated gradients' steps (64)
	Samples  int       // SmoothGrad's noisy copies (32), LIME's and SHAP's perturbations (512)
	Patch    int       // occlusion's square side (input side / 8, at least 2)
	Stride   int       // occlusion's step (patch / 2, at least 1)
	Segments int       // superpixels for LIME and SHAP (48)
	Output   Output    // what perturbation methods follow (Probability)
}

// registry maps a method's name to its constructor.
var registry = map[string]func(Options) Method{
	"gradcam":   func(Options) Method { return CAM{} },
	"gradcampp": func(Options) Method { return CAM{PlusPlus: true} },
	"saliency":  func(Options) Method { return Saliency{} },
	"smoothgrad": func(o Options) Method {
		return SmoothGrad{Samples: o.Samples, Batch: o.Batch, Seed: o.Seed}
	},
	"ig": func(o Options) Method {
		return IntegratedGradients{Steps: o.Steps, Batch: o.Batch, Reference: o.reference()}
	},
	"occlusion": func(o Options) Method {
		return Occlusion{Patch: o.Patch, Stride: o.Stride, Batch: o.Batch, Output: o.Output, Reference: o.reference()}
	},
	"lime": func(o Options) Method {
		return LIME{Segments: o.Segments, Samples: o.Samples, Batch: o.Batch, Seed: o.Seed, Output: o.Output, Reference: o.reference()}
	},
	"shap": func(o Options) Method {
		return KernelSHAP{Segments: o.Segments, Samples: o.Samples, Batch: o.Batch, Seed: o.Seed, Output: o.Output, Reference: o.reference()}
	},
	"random": func(o Options) Method { return Random{Seed: o.Seed} },
}

func (o Options) reference() Reference { return Reference{Baseline: o.Baseline, Black: o.Black} }

// Register adds a method under name, replacing any of that name. It is
// meant for init functions of packages that bring their own methods.
func Register(name string, f func(Options) Method) { registry[name] = f }

// Names returns the registered method names, sorted.
func Names() []string {
	ns := make([]string, 0, len(registry))
	for n := range registry {
		ns = append(ns, n)
	}
	sort.Strings(ns)
	return ns
}

// Standard returns the names of the methods a user usually compares, in
// the order tables list them: everything registered here except random.
func Standard() []string {
	return []string{"gradcam", "gradcampp", "saliency", "smoothgrad", "ig", "occlusion", "lime", "shap"}
}

// New returns the named method configured by o.
func New(name string, o Options) (Method, error) {
	f, ok := registry[name]
	if !ok {
		return nil, fmt.Errorf("explain: unknown method %q (known: %s)", name, strings.Join(Names(), ", "))
	}
	if o.Baseline != "" {
		if _, err := ParseBaseline(string(o.Baseline)); err != nil {
			return nil, err
		}
	}
	return f(o), nil
}
