package synth

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"image"
	"image/png"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"sync"

	"github.com/deepscope/deepscope/tensor"
)

// Config says what to generate. Zero fields take the defaults.
type Config struct {
	N       int     // images in all, spread evenly over the classes; 2000 when zero
	Size    int     // width and height in pixels; 64 when zero
	Seed    uint64  // seeds everything
	Sites   int     // acquisition sites, each with its own stain and optics (SiteStyle); 2 when zero
	Classes []Class // AllClasses() when empty
	// Difficulty in (0, 1] sets how much cells stray from their class's type
	// (Style.Variability) and how much stain, light, focus and noise vary
	// from image to image; 0.5 when zero. 0.5 gives classes that a small CNN
	// learns well and that no colour statistic separates; a small value
	// such as 0.01 gives nearly typical cells.
	Difficulty float64
}

// ManifestName is the file name of the manifest Generate writes.
const ManifestName = "split.csv"

// withDefaults fills the zero fields and checks the rest.
func (cfg Config) withDefaults() (Config, error) {
	if cfg.N == 0 {
		cfg.N = 2000
	}
	if cfg.Size == 0 {
		cfg.Size = 64
	}
	if cfg.Sites == 0 {
		cfg.Sites = 2
	}
	if len(cfg.Classes) == 0 {
		cfg.Classes = AllClasses()
	}
	if cfg.Difficulty == 0 {
		cfg.Difficulty = 0.5
	}
	switch {
	case cfg.Size < 16 || cfg.Size > 1024:
		return cfg, fmt.Errorf("synth: size %d out of range [16, 1024]", cfg.Size)
	case cfg.Sites < 1 || cfg.Sites > 100:
		return cfg, fmt.Errorf("synth: sites %d out of range [1, 100]", cfg.Sites)
	case cfg.Difficulty < 0 || cfg.Difficulty > 1 || math.IsNaN(cfg.Difficulty):
		return cfg, fmt.Errorf("synth: difficulty %g out of range (0, 1]", cfg.Difficulty)
	case cfg.N < len(cfg.Classes) || cfg.N > 10_000_000:
		return cfg, fmt.Errorf("synth: n %d out of range [%d (one per class), 10000000]", cfg.N, len(cfg.Classes))
	}
	seen := map[Class]bool{}
	for _, c := range cfg.Classes {
		if c < 0 || c >= numClasses {
			return cfg, fmt.Errorf("synth: unknown class %d", int(c))
		}
		if seen[c] {
			return cfg, fmt.Errorf("synth: class %v listed twice", c)
		}
		seen[c] = true
	}
	return cfg, nil
}

// Item is one planned image.
type Item struct {
	Path  string // relative to the output directory: class/00012.png
	Class Class
	Label int    // index of Class in Config.Classes
	Split string // "train", "val" or "test"
	Site  int    // 0-based acquisition site
	seed  uint64
}

// SiteName is the name a manifest gives site i: "site1", "site2", ...
func SiteName(i int) string { return "site" + strconv.Itoa(i+1) }

// Plan lists the images cfg describes, class by class, without drawing
// them. Each class is split 70/10/20 into train, val and test at random
// (seeded). Sites are drawn per image with weights 1, 1/2, 1/3, ... so that
// the first site dominates training, as the largest hospital of a
// consortium does; site is independent of class.
func Plan(cfg Config) ([]Item, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	var weights []float64
	var total float64
	for i := range cfg.Sites {
		weights = append(weights, 1/float64(i+1))
		total += 1 / float64(i+1)
	}
	var items []Item
	for li, c := range cfg.Classes {
		n := cfg.N / len(cfg.Classes)
		if li < cfg.N%len(cfg.Classes) {
			n++
		}
		rng := rand.New(rand.NewPCG(cfg.Seed, 0xc1a55<<8|uint64(c)))
		splits := make([]string, n)
		nTrain, nVal := int(math.Round(0.7*float64(n))), int(math.Round(0.1*float64(n)))
		for i := range splits {
			switch {
			case i < nTrain:
				splits[i] = "train"
			case i < nTrain+nVal:
				splits[i] = "val"
			default:
				splits[i] = "test"
			}
		}
		rng.Shuffle(n, func(i, j int) { splits[i], splits[j] = splits[j], splits[i] })
		for i := range n {
			u := rng.Float64() * total
			site := 0
			for site < cfg.Sites-1 && u >= weights[site] {
				u -= weights[site]
				site++
			}
			items = append(items, Item{
				Path:  c.String() + "/" + fmt.Sprintf("%05d.png", i),
				Class: c, Label: li, Split: splits[i], Site: site,
				seed: rng.Uint64(),
			})
		}
	}
	return items, nil
}

// Render draws the image of one planned item. It is a pure function of cfg
// and it: the same item renders the same on any machine.
func Render(cfg Config, it Item) *tensor.Tensor {
	cfg, err := cfg.withDefaults()
	if err != nil {
		panic("synth: Render with an invalid Config: " + err.Error())
	}
	rng := rand.New(rand.NewPCG(it.seed, cfg.Seed))
	st := SiteStyle(it.Site).jittered(rng, 0.4+1.2*cfg.Difficulty)
	st.Variability = cfg.Difficulty
	return Cell(rng, it.Class, cfg.Size, st)
}

// Generate writes the images of cfg as PNG files in ImageFolder layout,
// dir/<class>/<n>.png, and the manifest dir/split.csv with the columns
// path,label,split,site, returning the manifest's path. Every file is
// written to a temporary name and renamed, so a crash leaves no truncated
// file; images are drawn in parallel and the output is the same for a seed
// whatever the number of workers. dir must be empty, absent, or hold an
// earlier Generate's output, which is replaced (files its manifest lists
// and the new one does not are removed).
func Generate(dir string, cfg Config) (manifestPath string, err error) {
	items, err := Plan(cfg)
	if err != nil {
		return "", err
	}
	cfg, _ = cfg.withDefaults()
	old, err := previousOutput(dir)
	if err != nil {
		return "", err
	}
	for _, c := range cfg.Classes {
		if err := os.MkdirAll(filepath.Join(dir, c.String()), 0o755); err != nil {
			return "", fmt.Errorf("synth: %w", err)
		}
	}
	if err := writeImages(dir, cfg, items); err != nil {
		return "", err
	}
	var buf bytes.Buffer
	cw := csv.NewWriter(&buf)
	cw.Write([]string{"path", "label", "split", "site"})
	keep := map[string]bool{}
	for _, it := range items {
		cw.Write([]string{it.Path, it.Class.String(), it.Split, SiteName(it.Site)})
		keep[it.Path] = true
	}
	cw.Flush()
	manifestPath = filepath.Join(dir, ManifestName)
	if err := writeAtomic(manifestPath, buf.Bytes()); err != nil {
		return "", err
	}
	for _, p := range old {
		if !keep[p] {
			if err := os.Remove(filepath.Join(dir, filepath.FromSlash(p))); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return "", fmt.Errorf("synth: removing stale %s: %w", p, err)
			}
		}
	}
	return manifestPath, nil
}

// previousOutput checks that dir may be written and returns the image
// paths an earlier run's manifest lists.
func previousOutput(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) || (err == nil && len(entries) == 0) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("synth: %w", err)
	}
	f, err := os.Open(filepath.Join(dir, ManifestName))
	if err != nil {
		return nil, fmt.Errorf("synth: %s is not empty and holds no %s from an earlier run; choose an empty or new directory", dir, ManifestName)
	}
	defer f.Close()
	rows, err := csv.NewReader(bufio.NewReader(f)).ReadAll()
	if err != nil || len(rows) == 0 || !slices.Equal(rows[0], []string{"path", "label", "split", "site"}) {
		return nil, fmt.Errorf("synth: %s holds a %s that synth did not write; choose an empty or new directory", dir, ManifestName)
	}
	var paths []string
	for _, r := range rows[1:] {
		p := filepath.ToSlash(filepath.Clean(r[0]))
		if filepath.IsAbs(p) || !filepath.IsLocal(p) || filepath.Ext(p) != ".png" {
			return nil, fmt.Errorf("synth: %s: manifest lists %q, which synth does not write", filepath.Join(dir, ManifestName), r[0])
		}
		paths = append(paths, p)
	}
	return paths, nil
}

func writeImages(dir string, cfg Config, items []Item) error {
	workers := min(runtime.GOMAXPROCS(0), len(items))
	next := make(chan int)
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	var once sync.Once
	stop := make(chan struct{})
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf bytes.Buffer
			enc := png.Encoder{CompressionLevel: png.BestSpeed}
			for i := range next {
				it := items[i]
				buf.Reset()
				if err := enc.Encode(&buf, toImage(Render(cfg, it))); err != nil {
					errs <- fmt.Errorf("synth: encoding %s: %w", it.Path, err)
					once.Do(func() { close(stop) })
					return
				}
				if err := writeAtomic(filepath.Join(dir, filepath.FromSlash(it.Path)), buf.Bytes()); err != nil {
					errs <- err
					once.Do(func() { close(stop) })
					return
				}
			}
		}()
	}
feed:
	for i := range items {
		select {
		case next <- i:
		case <-stop:
			break feed
		}
	}
	close(next)
	wg.Wait()
	close(errs)
	return <-errs // nil when none
}

// writeAtomic writes data to a temporary file beside path and renames it
// over path. The temporary name is fixed per path (a leftover from a
// crashed run is simply overwritten), which saves the system calls of a
// random name and a chmod.
func writeAtomic(path string, data []byte) error {
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	err := os.WriteFile(tmp, data, 0o644)
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("synth: writing %s: %w", path, err)
	}
	return nil
}

// toImage quantises an RGB image in [0, 1] to 8 bits.
func toImage(t *tensor.Tensor) *image.NRGBA {
	h, w := t.Shape[0], t.Shape[1]
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	v := t.Values()
	for p := range h * w {
		for k := range 3 {
			img.Pix[4*p+k] = uint8(math.Round(float64(min(max(v[3*p+k], 0), 1)) * 255))
		}
		img.Pix[4*p+3] = 255
	}
	return img
}
