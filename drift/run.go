package drift

import (
	"fmt"
	"iter"
	"math/rand/v2"
	"path/filepath"

	"github.com/deepscope/deepscope/data"
	"github.com/deepscope/deepscope/tensor"
	"github.com/deepscope/deepscope/train"
)

// ForRun returns the reference of the run m was loaded from: the cached
// RUN/drift.json when it was made for the same weights (model names them,
// a hash say) and the same temperature, else one built from the run's validation split (the data
// path in run.json, split as training split it) and saved there for next
// time. built reports whether it was built now.
func ForRun(m *train.Model, model string) (ref *Reference, built bool, err error) {
	path := filepath.Join(m.Dir, FileName)
	// A missing, damaged or outdated cache is rebuilt.
	if r, err := Load(path); err == nil && r.Model == model && r.Channels == m.Info.Channels && r.Temperature == m.Info.Temperature {
		return r, false, nil
	}
	imgs, source, err := validationImages(m.Info)
	if err != nil {
		return nil, false, err
	}
	ref, err = Build(m, imgs, model, source)
	if err != nil {
		return nil, false, err
	}
	if err := ref.Save(path); err != nil {
		return ref, true, err
	}
	return ref, true, nil
}

// validationImages opens the run's data and yields up to MaxImages images
// of its validation split (a seeded sample when there are more); images
// that cannot be read are skipped.
func validationImages(info *train.RunInfo) (iter.Seq2[*tensor.Tensor, error], string, error) {
	path := info.Config.Data
	if info.Config.Split != "" {
		path = info.Config.Split
	}
	if path == "" {
		return nil, "", fmt.Errorf("drift: the run names no data to take reference images from")
	}
	ds, err := data.Open(path)
	if err != nil {
		return nil, "", fmt.Errorf("drift: reference images: %w", err)
	}
	for _, it := range ds.Items {
		if it.Split == "" {
			if ds, err = data.Split(ds, data.SplitConfig{Val: 0.1, Test: 0.2, Seed: info.Config.Seed}); err != nil {
				return nil, "", err
			}
			break
		}
	}
	val := ds.Subset(data.Val)
	if val.Len() == 0 {
		return nil, "", fmt.Errorf("drift: %s has no validation images", path)
	}
	idx := rand.New(rand.NewPCG(info.Config.Seed, 0xd21f7)).Perm(val.Len())
	idx = idx[:min(len(idx), MaxImages)]
	source := fmt.Sprintf("%s, validation split (%d of %d images)", path, len(idx), val.Len())
	return func(yield func(*tensor.Tensor, error) bool) {
		for _, i := range idx {
			img, err := val.Image(i)
			if err != nil {
				continue
			}
			if !yield(img, nil) {
				return
			}
		}
	}, source, nil
}
