package shift

import (
	"fmt"
	"math/rand/v2"

	"github.com/deepscope/deepscope/tensor"
	"github.com/deepscope/deepscope/transform"
)

// Stain normalisation methods a Preparation knows.
var StainMethods = []string{"reinhard", "macenko"}

// Preparation is a run's fixed preparation of every image against
// lab-to-lab shift, applied before the run's crop and resize in training,
// evaluation, prediction and serving alike: first the cell-centred crop,
// then stain normalisation to a target fitted on cropped training images.
// The order matters: Reinhard and Macenko match statistics of the whole
// image, which depend on how much of the frame the cell fills, so on
// uncropped images a change of magnification would change the colours
// too. It is a data.Transform (rng is not used) and marshals to JSON with
// its fitted target, so a run directory holds all it needs.
type Preparation struct {
	// Stain is "reinhard", "macenko" or "" (none).
	Stain    string              `json:"stain,omitempty"`
	Reinhard *transform.Reinhard `json:"reinhard,omitempty"` // fitted target, for Stain "reinhard"
	Macenko  *transform.Macenko  `json:"macenko,omitempty"`  // fitted target, for Stain "macenko"
	// CellCrop is the side of the window around the nucleus, in nucleus
	// diameters (transform.CellCrop's Scale); 0: no cell crop.
	CellCrop float64 `json:"cell_crop,omitempty"`
	Size     int     `json:"size,omitempty"` // side of the cell crop's output in pixels
}

// NewPreparation checks its arguments and returns an unfitted
// Preparation, or nil when it would do nothing.
func NewPreparation(stain string, cellCrop float64, size int) (*Preparation, error) {
	switch {
	case stain != "" && stain != "none" && stain != StainMethods[0] && stain != StainMethods[1]:
		return nil, fmt.Errorf("shift: stain normalisation %q: want reinhard, macenko or none", stain)
	case cellCrop < 0 || cellCrop > 0 && (cellCrop < 1 || cellCrop > 20):
		return nil, fmt.Errorf("shift: cell crop %g: want 0 (off) or a window of 1 to 20 nucleus diameters", cellCrop)
	case cellCrop > 0 && size < 1:
		return nil, fmt.Errorf("shift: cell crop needs an output size, got %d", size)
	}
	if stain == "none" {
		stain = ""
	}
	if stain == "" && cellCrop == 0 {
		return nil, nil
	}
	p := &Preparation{Stain: stain, CellCrop: cellCrop}
	if cellCrop > 0 {
		p.Size = size
	}
	return p, nil
}

// Fit fits the stain target to refs (training images, as decoded), after
// the cell crop when there is one. A Preparation without stain
// normalisation needs no fit.
func (p *Preparation) Fit(refs []*tensor.Tensor) error {
	if p.CellCrop > 0 && p.Stain != "" {
		cropped := make([]*tensor.Tensor, 0, len(refs))
		for _, r := range refs {
			cropped = append(cropped, p.crop(r))
		}
		refs = cropped
	}
	switch p.Stain {
	case "reinhard":
		p.Reinhard = &transform.Reinhard{}
		return p.Reinhard.Fit(refs)
	case "macenko":
		p.Macenko = &transform.Macenko{AutoLight: true}
		return p.Macenko.Fit(refs)
	}
	return nil
}

// Fitted reports whether the Preparation is ready to Apply.
func (p *Preparation) Fitted() bool {
	switch p.Stain {
	case "reinhard":
		return p.Reinhard != nil && p.Reinhard.Fitted()
	case "macenko":
		return p.Macenko != nil && p.Macenko.Fitted()
	}
	return true
}

// Apply prepares one image [H, W, C]. Grey images are returned as they
// are (both steps need colour).
// It panics if the stain target is not fitted (a programmer error: Fit
// first, or read the Preparation from a run).
func (p *Preparation) Apply(img *tensor.Tensor, _ *rand.Rand) *tensor.Tensor {
	if !p.Fitted() {
		panic("shift: Preparation.Apply before Fit")
	}
	if img.Dims() != 3 || img.Dim(2) != 3 {
		return img
	}
	img = p.crop(img)
	switch p.Stain {
	case "reinhard":
		img = p.Reinhard.Apply(img, nil)
	case "macenko":
		img = p.Macenko.Apply(img, nil)
	}
	return img
}

// crop applies the cell crop, if any, to an RGB image.
func (p *Preparation) crop(img *tensor.Tensor) *tensor.Tensor {
	if p.CellCrop == 0 || img.Dims() != 3 || img.Dim(2) != 3 {
		return img
	}
	return transform.CellCrop{Scale: p.CellCrop, Size: p.Size}.Apply(img, nil)
}

// String describes the preparation for logs.
func (p *Preparation) String() string {
	s := ""
	if p.CellCrop > 0 {
		s = fmt.Sprintf("a cell crop of %g nucleus diameters at %d px", p.CellCrop, p.Size)
	}
	if p.Stain != "" {
		if s != "" {
			s += ", then "
		}
		s += p.Stain + " stain normalisation"
	}
	return s
}
