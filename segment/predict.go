package segment

import (
	"bufio"
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/deepscope/deepscope/data"
)

// Output files and folders of PredictFiles.
const (
	LabelsDir   = "labels"      // NAME.png: 16-bit instance labels
	OverlaysDir = "overlays"    // NAME.png: outlines on the image
	ObjectsFile = "objects.csv" // one row per object
	CountsFile  = "counts.csv"  // one row per image
)

// ObjectsHeader is the header row of objects.csv.
var ObjectsHeader = []string{"image", "id", "area", "perimeter", "centroid_x", "centroid_y", "eccentricity", "mean_intensity"}

// PredictFiles segments each image file with m and writes, under out:
// labels/NAME.png (16-bit labels, NAME the image's name without its
// extension), overlays/NAME.png, objects.csv (one row per object, see
// ObjectsHeader and Object) and counts.csv (image, count). Images are done
// one at a time. An image that cannot be read is passed to done with its
// error and skipped; done (which may be nil) also hears of each image
// finished, with its object count. The CSV files are written beside their
// final names and renamed into place at the end.
func PredictFiles(m *Model, paths []string, out string, done func(path string, count int, err error)) error {
	if done == nil {
		done = func(string, int, error) {}
	}
	seen := map[string]string{}
	for _, p := range paths {
		if prev, dup := seen[stem(p)]; dup {
			return fmt.Errorf("segment: %s and %s would write the same output %s.png", prev, p, stem(p))
		}
		seen[stem(p)] = p
	}
	for _, d := range []string{LabelsDir, OverlaysDir} {
		if err := os.MkdirAll(filepath.Join(out, d), 0o755); err != nil {
			return fmt.Errorf("segment: %w", err)
		}
	}
	objects, err := newCSVFile(filepath.Join(out, ObjectsFile), ObjectsHeader)
	if err != nil {
		return err
	}
	defer objects.abort()
	counts, err := newCSVFile(filepath.Join(out, CountsFile), []string{"image", "count"})
	if err != nil {
		return err
	}
	defer counts.abort()
	for _, p := range paths {
		img, err := data.Decode(p)
		if err != nil {
			done(p, 0, err)
			continue
		}
		l := m.Segment(img)
		name := stem(p) + ".png"
		if err := WriteLabels(filepath.Join(out, LabelsDir, name), l); err != nil {
			return err
		}
		ov, err := EncodePNG(Overlay(img, l))
		if err != nil {
			return fmt.Errorf("segment: %s: %w", p, err)
		}
		if err := data.WriteFileAtomic(filepath.Join(out, OverlaysDir, name), ov); err != nil {
			return err
		}
		objs := Measure(l, img)
		base := filepath.Base(p)
		for _, o := range objs {
			objects.w.Write([]string{base, strconv.Itoa(int(o.ID)), strconv.Itoa(o.Area), ff(o.Perimeter),
				ff(o.X), ff(o.Y), ff(o.Eccentricity), ff(o.MeanIntensity)})
		}
		counts.w.Write([]string{base, strconv.Itoa(len(objs))})
		done(p, len(objs), nil)
	}
	if err := objects.commit(); err != nil {
		return err
	}
	return counts.commit()
}

func ff(x float64) string { return strconv.FormatFloat(x, 'f', 4, 64) }

// csvFile is a CSV written to a temporary file and renamed into place.
type csvFile struct {
	path string
	f    *os.File
	buf  *bufio.Writer
	w    *csv.Writer
}

func newCSVFile(path string, header []string) (*csvFile, error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return nil, fmt.Errorf("segment: %w", err)
	}
	c := &csvFile{path: path, f: f, buf: bufio.NewWriter(f)}
	c.w = csv.NewWriter(c.buf)
	c.w.Write(header)
	return c, nil
}

func (c *csvFile) commit() error {
	c.w.Flush()
	err := c.w.Error()
	if err == nil {
		err = c.buf.Flush()
	}
	if err == nil {
		err = c.f.Chmod(0o644)
	}
	if cerr := c.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(c.f.Name(), c.path)
	}
	if err != nil {
		os.Remove(c.f.Name())
		return fmt.Errorf("segment: %s: %w", c.path, err)
	}
	c.f = nil
	return nil
}

// abort removes the temporary file unless commit succeeded.
func (c *csvFile) abort() {
	if c.f != nil {
		c.f.Close()
		os.Remove(c.f.Name())
	}
}
