package fl

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/deepscope/deepscope/data"
)

// WritePartition lays out each part of a partition (see Partition) as a
// site folder that deepscope fl client --data reads: dir/client<i>/ holds,
// at each item's own path, a symbolic link to the original image, and a
// split.csv manifest that keeps the items' splits and metadata. No image
// is copied. It returns the site folders. Datasets whose images live in an
// array (.npz) cannot be laid out this way.
func WritePartition(dir string, parts []*data.Dataset) ([]string, error) {
	var sites []string
	for c, p := range parts {
		site := filepath.Join(dir, fmt.Sprintf("client%d", c+1))
		if _, err := os.Stat(site); err == nil {
			return nil, fmt.Errorf("fl: %s exists already; choose an empty --out", site)
		}
		out := *p
		out.Root, out.Ignored = site, nil
		for i, it := range p.Items {
			src := p.FilePath(i)
			if src == "" {
				return nil, fmt.Errorf("fl: %s keeps its images in an array; site folders need image files", p.Root)
			}
			abs, err := filepath.Abs(src)
			if err != nil {
				return nil, fmt.Errorf("fl: %w", err)
			}
			link := filepath.Join(site, filepath.FromSlash(it.Path))
			if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
				return nil, fmt.Errorf("fl: %w", err)
			}
			if err := os.Symlink(abs, link); err != nil {
				return nil, fmt.Errorf("fl: %w", err)
			}
		}
		if err := data.WriteManifest(filepath.Join(site, "split.csv"), &out); err != nil {
			return nil, err
		}
		sites = append(sites, site)
	}
	return sites, nil
}
