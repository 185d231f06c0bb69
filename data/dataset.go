package data

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/deepscope/deepscope/tensor"
)

// Split names used by manifests, npz archives and Split.
const (
	Train = "train"
	Val   = "val"
	Test  = "test"
)

// Item is one entry of a dataset's index: everything known about an image
// without decoding it.
type Item struct {
	// Path is the image file relative to the dataset's Root, with forward
	// slashes; for images held in an array (npz) it is "<split>_images/<row>".
	Path string
	// Label is the class index into Dataset.Classes; -1 for multi-label items.
	Label int
	// Labels holds one 0/1 target per class for multi-label datasets.
	Labels []float32
	// Split is "train", "val", "test" or "" when not yet assigned.
	Split string
	// Meta holds a manifest's extra columns (patient, slide, site, ...).
	Meta map[string]string
}

// Dataset is an index of labelled images.
type Dataset struct {
	// Root is the directory that Item paths are relative to (for npz
	// datasets, the archive's path).
	Root string
	// Classes names the classes; Item.Label indexes it.
	Classes []string
	// Items lists the images.
	Items []Item
	// MultiLabel is true when each item has a vector of 0/1 targets.
	MultiLabel bool
	// Source says how the index was read: "imagefolder", "manifest:<file>"
	// or "npz".
	Source string
	// Ignored lists files found while indexing that were not taken as images
	// (unknown extensions), relative to Root.
	Ignored []string

	arrays map[string]*pixelArray // npz images by "<split>_images"
}

// Open reads a dataset, choosing the reader by what path is: a directory
// holding split.csv or manifest.csv is read as that manifest; any other
// directory as an ImageFolder; a .npz file with OpenNPZ (all splits); a .csv
// file with OpenManifest.
func Open(path string) (*Dataset, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, &FileError{Path: path, Err: unwrapPathError(err)}
	}
	if st.IsDir() {
		for _, name := range []string{"split.csv", "manifest.csv"} {
			if _, err := os.Stat(filepath.Join(path, name)); err == nil {
				return OpenManifest(filepath.Join(path, name))
			}
		}
		return OpenImageFolder(path)
	}
	switch strings.ToLower(filepath.Ext(path)) {
	case ".npz":
		return OpenNPZ(path, "")
	case ".csv":
		return OpenManifest(path)
	}
	return nil, fileErr(path, "not a directory, .csv manifest or .npz archive")
}

// Subset returns the dataset restricted to the items of one split. The
// result shares Classes and image arrays with ds.
func (ds *Dataset) Subset(split string) *Dataset {
	sub := *ds
	sub.Items = nil
	for _, it := range ds.Items {
		if it.Split == split {
			sub.Items = append(sub.Items, it)
		}
	}
	sub.Ignored = nil
	return &sub
}

// Len returns the number of items.
func (ds *Dataset) Len() int { return len(ds.Items) }

// Splits returns the split names used by the items, in the order train,
// val, test, then others sorted ("" for unassigned items).
func (ds *Dataset) Splits() []string {
	seen := map[string]bool{}
	for _, it := range ds.Items {
		seen[it.Split] = true
	}
	var out []string
	for _, s := range []string{Train, Val, Test} {
		if seen[s] {
			out = append(out, s)
			delete(seen, s)
		}
	}
	rest := make([]string, 0, len(seen))
	for s := range seen {
		rest = append(rest, s)
	}
	slices.Sort(rest)
	return append(out, rest...)
}

// ClassCounts returns how many items each class has (for multi-label
// datasets, how many items have each label set).
func (ds *Dataset) ClassCounts() []int {
	n := make([]int, len(ds.Classes))
	for _, it := range ds.Items {
		if ds.MultiLabel {
			for k, v := range it.Labels {
				if v != 0 && k < len(n) {
					n[k]++
				}
			}
		} else if it.Label >= 0 && it.Label < len(n) {
			n[it.Label]++
		}
	}
	return n
}

// FilePath returns the file of item i on disk, or "" for array items.
func (ds *Dataset) FilePath(i int) string {
	if ds.arrays != nil {
		return ""
	}
	return filepath.Join(ds.Root, filepath.FromSlash(ds.Items[i].Path))
}

// Name returns a name for item i for messages: its file path, or the
// archive and row for array items.
func (ds *Dataset) Name(i int) string {
	if ds.arrays != nil {
		return ds.Root + ":" + ds.Items[i].Path
	}
	return ds.FilePath(i)
}

// Image decodes item i into [H, W, C] values in [0, 1].
func (ds *Dataset) Image(i int) (*tensor.Tensor, error) {
	if ds.arrays != nil {
		a, row, err := ds.arrayRow(i)
		if err != nil {
			return nil, err
		}
		return a.image(row), nil
	}
	return Decode(ds.FilePath(i))
}

// readFileInto reads the file at path, reusing buf's memory when it is
// large enough.
func readFileInto(path string, buf []byte) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, &FileError{Path: path, Err: unwrapPathError(err)}
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, &FileError{Path: path, Err: unwrapPathError(err)}
	}
	if st.IsDir() {
		return nil, fileErr(path, "is a directory")
	}
	if st.Size() > MaxFileBytes {
		return nil, fileErr(path, "file of %d bytes is over the limit of %d", st.Size(), MaxFileBytes)
	}
	n := int(st.Size())
	if cap(buf) < n {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	got := 0
	for got < n {
		k, err := f.Read(buf[got:])
		got += k
		if err != nil {
			break
		}
	}
	if got != n {
		return nil, fileErr(path, "read %d of %d bytes", got, n)
	}
	return buf, nil
}

// classIndex maps class names to indices.
func classIndex(classes []string) map[string]int {
	m := make(map[string]int, len(classes))
	for i, c := range classes {
		m[c] = i
	}
	return m
}

// checkItem reports an item whose label is out of range (a programmer
// error in code that builds datasets by hand shows here).
func (ds *Dataset) checkItem(i int) error {
	it := ds.Items[i]
	if ds.MultiLabel {
		if len(it.Labels) != len(ds.Classes) {
			return fmt.Errorf("data: %s: %d labels for %d classes", ds.Name(i), len(it.Labels), len(ds.Classes))
		}
		return nil
	}
	if it.Label < 0 || it.Label >= len(ds.Classes) {
		return fmt.Errorf("data: %s: label %d out of range for %d classes", ds.Name(i), it.Label, len(ds.Classes))
	}
	return nil
}
