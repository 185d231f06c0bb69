package segment

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/deepscope/deepscope/data"
	"github.com/deepscope/deepscope/tensor"
)

// Sample is one image of a dataset and where its labels are: a label image
// or a list of binary masks, one per object.
type Sample struct {
	Name   string   // the image's file name, unique within the dataset
	Image  string   // path of the image
	Labels string   // path of the label image; "" when Masks are given
	Masks  []string // paths of one binary mask per object
}

// Dataset is a folder of images with instance labels.
type Dataset struct {
	Dir     string
	Layout  string // "labels" (images/ and labels/) or "masks" (a folder per image)
	Samples []Sample
}

// Open indexes a dataset folder in one of two layouts:
//
//   - DIR/images/NAME.png and DIR/labels/NAME.png (or .tif): an instance
//     label image per image, paired by file name without extension, as
//     Cellpose and StarDist datasets come;
//   - DIR/ID/images/ID.png and DIR/ID/masks/*.png: a folder per image with
//     one binary mask per object, the 2018 Data Science Bowl's layout.
//
// An image without labels, labels without an image, or an image folder
// without exactly one image is an error naming the file. Files are not
// opened; Load reads and checks them.
func Open(dir string) (*Dataset, error) {
	if isDir(filepath.Join(dir, "images")) {
		return openPaired(dir)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("segment: %w", err)
	}
	ds := &Dataset{Dir: dir, Layout: "masks"}
	for _, e := range entries {
		sub := filepath.Join(dir, e.Name())
		if strings.HasPrefix(e.Name(), ".") || !isDir(sub) {
			continue
		}
		imgs, err := listImages(filepath.Join(sub, "images"))
		if err != nil {
			return nil, err
		}
		if len(imgs) != 1 {
			return nil, fmt.Errorf("segment: %s: want one image, found %d", filepath.Join(sub, "images"), len(imgs))
		}
		masks, err := listImages(filepath.Join(sub, "masks"))
		if err != nil {
			return nil, err
		}
		s := Sample{Name: filepath.Base(imgs[0]), Image: imgs[0], Masks: masks}
		ds.Samples = append(ds.Samples, s)
	}
	if len(ds.Samples) == 0 {
		return nil, fmt.Errorf("segment: %s: no images/ and labels/ folders, and no folders of the form ID/images, ID/masks", dir)
	}
	return ds, checkUnique(ds)
}

func openPaired(dir string) (*Dataset, error) {
	imgDir, labDir := filepath.Join(dir, "images"), filepath.Join(dir, "labels")
	if !isDir(labDir) {
		return nil, fmt.Errorf("segment: %s: an images/ folder but no labels/ folder beside it", dir)
	}
	imgs, err := listImages(imgDir)
	if err != nil {
		return nil, err
	}
	labs, err := listImages(labDir)
	if err != nil {
		return nil, err
	}
	byStem := map[string]string{}
	for _, p := range labs {
		st := stem(p)
		if prev, dup := byStem[st]; dup {
			return nil, fmt.Errorf("segment: %s and %s: two label images for the same name", prev, p)
		}
		byStem[st] = p
	}
	ds := &Dataset{Dir: dir, Layout: "labels"}
	used := map[string]bool{}
	for _, p := range imgs {
		lp, ok := byStem[stem(p)]
		if !ok {
			return nil, fmt.Errorf("segment: %s: no label image for it in %s", p, labDir)
		}
		used[lp] = true
		ds.Samples = append(ds.Samples, Sample{Name: filepath.Base(p), Image: p, Labels: lp})
	}
	for _, p := range labs {
		if !used[p] {
			return nil, fmt.Errorf("segment: %s: no image for it in %s", p, imgDir)
		}
	}
	if len(ds.Samples) == 0 {
		return nil, fmt.Errorf("segment: %s: no images", imgDir)
	}
	return ds, checkUnique(ds)
}

func checkUnique(ds *Dataset) error {
	seen := map[string]string{}
	for _, s := range ds.Samples {
		if prev, dup := seen[stem(s.Name)]; dup {
			return fmt.Errorf("segment: %s and %s: two images of the same name", prev, s.Image)
		}
		seen[stem(s.Name)] = s.Image
	}
	return nil
}

// Fingerprint hashes the dataset's index (names and paths relative to its
// folder), so a run can tell whether it is resumed on the same data.
func (ds *Dataset) Fingerprint() string {
	h := sha256.New()
	for _, s := range ds.Samples {
		fmt.Fprintf(h, "%s\t%s\t%s\t%d\n", s.Name, rel(ds.Dir, s.Image), rel(ds.Dir, s.Labels), len(s.Masks))
	}
	return hex.EncodeToString(h.Sum(nil))
}

func rel(dir, p string) string {
	if p == "" {
		return ""
	}
	r, err := filepath.Rel(dir, p)
	if err != nil {
		return p
	}
	return filepath.ToSlash(r)
}

// Load reads a sample's image ([H, W, C] in [0, 1], C = 1 or 3) and its
// labels, and checks that their sizes agree.
func (s Sample) Load() (*tensor.Tensor, *Labels, error) {
	img, err := data.Decode(s.Image)
	if err != nil {
		return nil, nil, err // a *data.FileError, naming the file
	}
	h, w := img.Dim(0), img.Dim(1)
	if s.Labels == "" {
		l, err := ReadMasks(s.Masks, w, h)
		return img, l, err
	}
	l, err := ReadLabels(s.Labels)
	if err != nil {
		return nil, nil, err
	}
	if l.W != w || l.H != h {
		return nil, nil, fmt.Errorf("segment: %s: label image is %dx%d, its image %s is %dx%d", s.Labels, l.W, l.H, s.Image, w, h)
	}
	return img, l, nil
}

// ListImages returns the image files named (PNG, JPEG, TIFF, BMP) and those
// inside the folders named (not recursively), folders in sorted order.
func ListImages(args []string) ([]string, error) {
	var out []string
	for _, a := range args {
		if isDir(a) {
			found, err := listImages(a)
			if err != nil {
				return nil, err
			}
			out = append(out, found...)
			continue
		}
		if _, err := os.Stat(a); err != nil {
			return nil, fmt.Errorf("segment: %w", err)
		}
		out = append(out, a)
	}
	return out, nil
}

// listImages returns the image files directly inside dir, sorted.
func listImages(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("segment: %w", err)
	}
	var out []string
	for _, e := range entries {
		if e.IsDir() || strings.HasPrefix(e.Name(), ".") || !imageExt[strings.ToLower(filepath.Ext(e.Name()))] {
			continue
		}
		out = append(out, filepath.Join(dir, e.Name()))
	}
	slices.Sort(out)
	return out, nil
}

var imageExt = map[string]bool{".png": true, ".tif": true, ".tiff": true, ".jpg": true, ".jpeg": true, ".bmp": true}

func stem(p string) string {
	b := filepath.Base(p)
	return strings.TrimSuffix(b, filepath.Ext(b))
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}
