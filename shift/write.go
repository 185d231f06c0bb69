package shift

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"

	"github.com/deepscope/deepscope/data"
	"github.com/deepscope/deepscope/tensor"
)

// Config says which copies Write makes.
type Config struct {
	Split  string  // split of the source to copy; "test" when empty, "all" for every image (keeping its split)
	Shifts []Shift // at least one
	// Fraction in (0, 1) shifts that share of the images (drawn per class,
	// seeded), split evenly among the shifts, and keeps the rest unshifted:
	// each image appears once, as at a second site. 0 or 1 writes every
	// image unshifted and once per shift: paired copies, the cleanest
	// measure of what each shift costs.
	Fraction float64
	Column   string // manifest column naming each image's group; "site" when empty
	Original string // group of the unshifted images; "original" when empty
	Format   string // "png" (default) or "jpg" (quality 95)
	Seed     uint64
	Workers  int // 0: one per core
}

// Summary says what Write wrote.
type Summary struct {
	Manifest string         // the CSV manifest
	Groups   map[string]int // images per group
}

// ReadmeName is the file Write leaves beside the manifest to say that
// the images are simulated and how they were made.
const ReadmeName = "README.txt"

// Write makes simulated shifted copies of a split of ds in the directory
// out (created; files already there are replaced): images under
// out/<group>/<the source's path>.png (":" in a group's folder name
// becomes "-"), and out/manifest.csv listing them
// with the columns path, label, split ("test": the copies of one split
// exist to test on; with Split "all" each image keeps its own, so that a
// simulated two-site training set can be made), the source's metadata
// columns, cfg.Column (the group) and "source" (the original image). A
// source column named like cfg.Column is an error. Images must be RGB.
func Write(ds *data.Dataset, out string, cfg Config) (*Summary, error) {
	if err := cfg.check(ds); err != nil {
		return nil, err
	}
	src := ds
	if cfg.Split != "all" {
		src = ds.Subset(cfg.Split)
	}
	if src.Len() == 0 {
		return nil, fmt.Errorf("shift: %s has no images in split %q (splits: %v)", ds.Root, cfg.Split, ds.Splits())
	}
	jobs := cfg.plan(src)
	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, fmt.Errorf("shift: %w", err)
	}
	items, err := cfg.run(src, out, jobs)
	if err != nil {
		return nil, err
	}
	res := &data.Dataset{Root: out, Classes: ds.Classes, Items: items}
	sum := &Summary{Manifest: filepath.Join(out, "manifest.csv"), Groups: map[string]int{}}
	for _, it := range items {
		sum.Groups[it.Meta[cfg.Column]]++
	}
	if err := data.WriteManifest(sum.Manifest, res); err != nil {
		return nil, err
	}
	return sum, data.WriteFileAtomic(filepath.Join(out, ReadmeName), []byte(cfg.readme(ds, sum)))
}

func (cfg *Config) check(ds *data.Dataset) error {
	if cfg.Split == "" {
		cfg.Split = data.Test
	}
	if cfg.Column == "" {
		cfg.Column = "site"
	}
	if cfg.Original == "" {
		cfg.Original = "original"
	}
	if cfg.Format == "" {
		cfg.Format = "png"
	}
	if cfg.Workers <= 0 {
		cfg.Workers = runtime.GOMAXPROCS(0)
	}
	switch {
	case len(cfg.Shifts) == 0:
		return fmt.Errorf("shift: no shift given (known: %s)", Names)
	case !(cfg.Fraction >= 0 && cfg.Fraction <= 1):
		return fmt.Errorf("shift: fraction %g: want a value in [0, 1]", cfg.Fraction)
	case cfg.Format != "png" && cfg.Format != "jpg":
		return fmt.Errorf("shift: format %q: want png or jpg", cfg.Format)
	case ds.MultiLabel:
		return fmt.Errorf("shift: %s is multi-label; shifted copies are written for single-label data", ds.Root)
	}
	for _, s := range cfg.Shifts {
		if s.Name == cfg.Original {
			return fmt.Errorf("shift: a shift is named %q like the unshifted group", s.Name)
		}
	}
	for _, it := range ds.Items {
		if _, ok := it.Meta[cfg.Column]; ok {
			return fmt.Errorf("shift: %s already has a column %q; choose another column name", ds.Source, cfg.Column)
		}
	}
	return nil
}

// job is one image to write: source item src under a group, shifted by
// shift (nil: copied as it is).
type job struct {
	src   int
	group string
	shift *Shift
}

// plan lists the images to write.
func (cfg *Config) plan(src *data.Dataset) []job {
	var jobs []job
	if cfg.Fraction == 0 || cfg.Fraction == 1 {
		for i := range src.Items {
			jobs = append(jobs, job{i, cfg.Original, nil})
			for k := range cfg.Shifts {
				jobs = append(jobs, job{i, cfg.Shifts[k].Name, &cfg.Shifts[k]})
			}
		}
		return jobs
	}
	byClass := map[int][]int{}
	for i, it := range src.Items {
		byClass[it.Label] = append(byClass[it.Label], i)
	}
	classes := make([]int, 0, len(byClass))
	for c := range byClass {
		classes = append(classes, c)
	}
	sort.Ints(classes)
	for _, c := range classes {
		idx := byClass[c]
		rng := rand.New(rand.NewPCG(cfg.Seed, uint64(c)))
		rng.Shuffle(len(idx), func(a, b int) { idx[a], idx[b] = idx[b], idx[a] })
		nShift := int(math.Round(cfg.Fraction * float64(len(idx))))
		for r, i := range idx {
			if r < nShift {
				k := r % len(cfg.Shifts)
				jobs = append(jobs, job{i, cfg.Shifts[k].Name, &cfg.Shifts[k]})
			} else {
				jobs = append(jobs, job{i, cfg.Original, nil})
			}
		}
	}
	sort.SliceStable(jobs, func(a, b int) bool { return jobs[a].src < jobs[b].src })
	return jobs
}

// run writes the images of jobs with cfg.Workers goroutines and returns
// their manifest items, in job order.
func (cfg *Config) run(src *data.Dataset, out string, jobs []job) ([]data.Item, error) {
	items := make([]data.Item, len(jobs))
	errs := make([]error, len(jobs))
	next := make(chan int)
	var wg sync.WaitGroup
	for range cfg.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range next {
				items[j], errs[j] = cfg.write(src, out, jobs[j])
			}
		}()
	}
	for j := range jobs {
		next <- j
	}
	close(next)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return items, nil
}

// write makes one image and returns its manifest item.
func (cfg *Config) write(src *data.Dataset, out string, jb job) (data.Item, error) {
	it := src.Items[jb.src]
	img, err := src.Image(jb.src)
	if err != nil {
		return data.Item{}, err
	}
	if img.Dim(2) != 3 {
		return data.Item{}, fmt.Errorf("shift: %s has %d channels; the shifts need RGB images", src.Name(jb.src), img.Dim(2))
	}
	if jb.shift != nil {
		img = jb.shift.Transform.Apply(img, nil)
	}
	dir := strings.NewReplacer(":", "-", "/", "-", "\\", "-").Replace(jb.group) // a folder name on any system
	rel := path.Join(dir, strings.TrimSuffix(it.Path, path.Ext(it.Path))+"."+cfg.Format)
	dst := filepath.Join(out, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return data.Item{}, fmt.Errorf("shift: %w", err)
	}
	b, err := encode(img, cfg.Format)
	if err != nil {
		return data.Item{}, fmt.Errorf("shift: %s: %w", dst, err)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		return data.Item{}, fmt.Errorf("shift: %w", err)
	}
	meta := map[string]string{cfg.Column: jb.group, "source": it.Path}
	for k, v := range it.Meta {
		if k != "source" {
			meta[k] = v
		}
	}
	split := data.Test
	if cfg.Split == "all" {
		split = it.Split
	}
	return data.Item{Path: rel, Label: it.Label, Split: split, Meta: meta}, nil
}

// encode writes an image [H, W, 3] in [0, 1] as 8-bit PNG or JPEG.
func encode(t *tensor.Tensor, format string) ([]byte, error) {
	h, w := t.Dim(0), t.Dim(1)
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	v := t.Contiguous().Values()
	q := func(x float32) uint8 { return uint8(math.Round(float64(min(max(x, 0), 1)) * 255)) }
	for y := range h {
		for x := range w {
			p := v[(y*w+x)*3:]
			img.SetNRGBA(x, y, color.NRGBA{q(p[0]), q(p[1]), q(p[2]), 255})
		}
	}
	var buf bytes.Buffer
	var err error
	if format == "jpg" {
		err = jpeg.Encode(&buf, img, &jpeg.Options{Quality: 95})
	} else {
		err = png.Encode(&buf, img)
	}
	return buf.Bytes(), err
}

// readme says what the directory holds.
func (cfg *Config) readme(ds *data.Dataset, sum *Summary) string {
	var b strings.Builder
	fmt.Fprintf(&b, "SIMULATED lab shifts, written by deepscope data shift.\n\n")
	fmt.Fprintf(&b, "Every image here was made from the %q split of %s by a fixed transform; none\n", cfg.Split, ds.Root)
	fmt.Fprintf(&b, "comes from another laboratory. Use the set to measure how sensitive a model is to\n")
	fmt.Fprintf(&b, "magnification, stain and illumination, not to claim accuracy at a real second site.\n\n")
	fmt.Fprintf(&b, "Column %q of manifest.csv names each image's group; \"source\" its original.\n", cfg.Column)
	groups := make([]string, 0, len(sum.Groups))
	for g := range sum.Groups {
		groups = append(groups, g)
	}
	sort.Strings(groups)
	for _, g := range groups {
		what := "unshifted copy"
		for _, s := range cfg.Shifts {
			if s.Name == g {
				what = s.Transform.String()
			}
		}
		fmt.Fprintf(&b, "  %-14s %6d images  %s\n", g, sum.Groups[g], what)
	}
	if cfg.Fraction > 0 && cfg.Fraction < 1 {
		fmt.Fprintf(&b, "\n%.0f%% of each class was shifted (seed %d), the rest kept: each image appears once.\n", 100*cfg.Fraction, cfg.Seed)
	} else {
		fmt.Fprintf(&b, "\nEvery image appears unshifted and once per shift (paired copies).\n")
	}
	return b.String()
}
