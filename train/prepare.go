package train

import (
	"fmt"
	"math/rand/v2"

	"github.com/deepscope/deepscope/data"
	"github.com/deepscope/deepscope/shift"
	"github.com/deepscope/deepscope/tensor"
)

// prepImages is how many images a run's stain target is fitted on: the
// pooled colour statistics of a few dozen fields are stable.
const prepImages = 64

// fitPreparation builds the Preparation cfg asks for (nil for none) and
// fits its stain target on a seeded sample of ds's images, as decoded.
func fitPreparation(cfg Config, ds *data.Dataset) (*shift.Preparation, error) {
	p, err := shift.NewPreparation(cfg.StainNorm, cfg.CellCrop, cfg.Size)
	if err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	if p == nil || p.Stain == "" {
		return p, nil
	}
	perm := rand.New(rand.NewPCG(cfg.Seed, 0x57a1)).Perm(ds.Len())
	var refs []*tensor.Tensor
	for _, i := range perm[:min(len(perm), prepImages)] {
		img, err := ds.Image(i)
		if err != nil {
			return nil, err
		}
		if img.Dim(2) == 3 {
			refs = append(refs, img)
		}
	}
	if err := p.Fit(refs); err != nil {
		return nil, fmt.Errorf("train: stain_norm %s: %w", cfg.StainNorm, err)
	}
	return p, nil
}
