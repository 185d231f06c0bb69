package data

import (
	"archive/zip"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/deepscope/deepscope/tensor"
)

// pixelArray holds n images of h×w×c bytes, row after row.
type pixelArray struct {
	n, h, w, c int
	pix        []byte
}

func (a *pixelArray) rowBytes(i int) []byte {
	sz := a.h * a.w * a.c
	return a.pix[i*sz : (i+1)*sz]
}

func (a *pixelArray) image(i int) *tensor.Tensor {
	t := tensor.New(a.h, a.w, a.c)
	for j, v := range a.rowBytes(i) {
		t.Data[j] = u8[v]
	}
	return t
}

// arrayRow finds the array and row of array item i ("<split>_images/<row>").
func (ds *Dataset) arrayRow(i int) (*pixelArray, int, error) {
	p := ds.Items[i].Path
	key, num, ok := strings.Cut(p, "/")
	a := ds.arrays[key]
	row, err := strconv.Atoi(num)
	if !ok || a == nil || err != nil || row < 0 || row >= a.n {
		return nil, 0, fileErr(ds.Root, "item %q names no image of the archive", p)
	}
	return a, row, nil
}

// OpenNPZ reads a MedMNIST-style .npz archive: arrays <split>_images (uint8,
// [N, H, W] grey or [N, H, W, C] with C = 1 or 3) and <split>_labels
// ([N] or [N, 1] class indices, or [N, K] 0/1 targets for multi-label sets
// such as ChestMNIST) for split train, val and test. split names the one
// split to load, or "" for all present. The images are held in memory
// (BloodMNIST at 28 px: 40 MB; at 224 px: 2.6 GB). Class names come from
// the MedMNIST table when the file is named after a MedMNIST set
// (bloodmnist_64.npz), otherwise they are "0", "1", ...
func OpenNPZ(path, split string) (*Dataset, error) {
	zr, err := zip.OpenReader(path)
	if err != nil {
		return nil, fileErr(path, "not a readable .npz (zip) archive: %v", unwrapPathError(err))
	}
	defer zr.Close()
	entries := map[string]*zip.File{}
	var keys []string
	for _, f := range zr.File {
		k := strings.TrimSuffix(f.Name, ".npy")
		entries[k] = f
		keys = append(keys, k)
	}
	slices.Sort(keys)
	splits := []string{Train, Val, Test}
	if split != "" {
		s, err := parseSplit(split)
		if err != nil {
			return nil, fileErr(path, "%v", err)
		}
		splits = []string{s}
	}
	ds := &Dataset{Root: path, Source: "npz", arrays: map[string]*pixelArray{}}
	var shape *pixelArray // the first split's image shape, which the others must match
	nlabels := -1         // columns of the label arrays
	maxLabel := -1
	for _, s := range splits {
		fi, fl := entries[s+"_images"], entries[s+"_labels"]
		if fi == nil && fl == nil && split == "" {
			continue
		}
		if fi == nil || fl == nil {
			missing := s + "_images"
			if fi != nil {
				missing = s + "_labels"
			}
			return nil, fileErr(path, "no array %q (arrays: %s)", missing, strings.Join(keys, ", "))
		}
		img, err := readEntry(fi)
		if err != nil {
			return nil, fileErr(path, "%s: %v", fi.Name, err)
		}
		pa, err := imagesFromArray(img)
		if err != nil {
			return nil, fileErr(path, "%s: %v", fi.Name, err)
		}
		img = nil
		if shape != nil && (pa.h != shape.h || pa.w != shape.w || pa.c != shape.c) {
			return nil, fileErr(path, "%s: images are %dx%dx%d, other splits %dx%dx%d", fi.Name, pa.h, pa.w, pa.c, shape.h, shape.w, shape.c)
		}
		shape = pa
		lab, err := readEntry(fl)
		if err != nil {
			return nil, fileErr(path, "%s: %v", fl.Name, err)
		}
		vals, err := lab.ints()
		if err != nil {
			return nil, fileErr(path, "%s: %v", fl.Name, err)
		}
		cols := 1
		switch {
		case len(lab.shape) == 1 && lab.shape[0] == pa.n:
		case len(lab.shape) == 2 && lab.shape[0] == pa.n && lab.shape[1] >= 1:
			cols = lab.shape[1]
		default:
			return nil, fileErr(path, "%s: shape %v, want [%d], [%d, 1] or [%d, classes] to match %d images",
				fl.Name, lab.shape, pa.n, pa.n, pa.n, pa.n)
		}
		if nlabels >= 0 && cols != nlabels {
			return nil, fileErr(path, "%s: %d label columns, other splits %d", fl.Name, cols, nlabels)
		}
		nlabels = cols
		key := s + "_images"
		ds.arrays[key] = pa
		for i := 0; i < pa.n; i++ {
			it := Item{Path: key + "/" + strconv.Itoa(i), Split: s}
			if cols == 1 {
				it.Label = vals[i]
				if it.Label < 0 {
					return nil, fileErr(path, "%s: row %d: negative label %d", fl.Name, i, it.Label)
				}
				maxLabel = max(maxLabel, it.Label)
			} else {
				it.Label = -1
				it.Labels = make([]float32, cols)
				for k, v := range vals[i*cols : (i+1)*cols] {
					if v != 0 && v != 1 {
						return nil, fileErr(path, "%s: row %d: multi-label value %d is not 0 or 1", fl.Name, i, v)
					}
					it.Labels[k] = float32(v)
				}
			}
			ds.Items = append(ds.Items, it)
		}
	}
	if len(ds.Items) == 0 {
		return nil, fileErr(path, "no <split>_images and <split>_labels arrays (arrays: %s)", strings.Join(keys, ", "))
	}
	ds.MultiLabel = nlabels > 1
	nclass := maxLabel + 1
	if ds.MultiLabel {
		nclass = nlabels
	}
	ds.Classes = medmnistClasses(filepath.Base(path), nclass)
	return ds, nil
}

func readEntry(f *zip.File) (*npyArray, error) {
	rc, err := f.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return readNPY(rc, f.UncompressedSize64)
}

// imagesFromArray checks an image array's dtype and shape.
func imagesFromArray(a *npyArray) (*pixelArray, error) {
	if a.dtype != "u1" {
		return nil, fmt.Errorf("images have dtype %s, want uint8", a.dtype)
	}
	s := a.shape
	switch {
	case len(s) == 3:
		return &pixelArray{n: s[0], h: s[1], w: s[2], c: 1, pix: a.data}, nil
	case len(s) == 4 && (s[3] == 1 || s[3] == 3):
		return &pixelArray{n: s[0], h: s[1], w: s[2], c: s[3], pix: a.data}, nil
	}
	return nil, fmt.Errorf("images have shape %v, want [N, H, W] or [N, H, W, 1 or 3] (3-D volumes are not supported)", s)
}

// medmnistClasses returns the class names of the MedMNIST set a file is
// named after, or "0".."n-1".
func medmnistClasses(file string, n int) []string {
	name := strings.TrimSuffix(strings.ToLower(file), ".npz")
	if i := strings.IndexByte(name, '_'); i >= 0 {
		name = name[:i]
	}
	if set, ok := medmnistSets[name]; ok && len(set.Classes) >= n {
		return slices.Clone(set.Classes)
	}
	out := make([]string, n)
	for i := range out {
		out[i] = strconv.Itoa(i)
	}
	return out
}
