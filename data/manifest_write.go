package data

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// WriteManifest writes ds as a CSV manifest that OpenManifest reads back to
// the same dataset: columns path, label (labels for multi-label data),
// split, then the metadata columns in sorted order. Paths are written
// relative to the manifest's directory, which must contain the images.
// When the class list is not simply the sorted labels in use (an empty
// class, or another order) or a classes.txt is there already, classes.txt
// is written beside it too. Files are
// replaced atomically (written to a temporary file, then renamed), so a
// crash never leaves half a manifest.
func WriteManifest(path string, ds *Dataset) error {
	if ds.arrays != nil {
		return fileErr(path, "the dataset's images live in %s, not in files a manifest could list", ds.Root)
	}
	dir := filepath.Dir(path)
	absDir, err := filepath.Abs(dir)
	if err != nil {
		return &FileError{Path: path, Err: err}
	}
	absRoot, err := filepath.Abs(ds.Root)
	if err != nil {
		return &FileError{Path: path, Err: err}
	}
	var metaKeys []string
	seen := map[string]bool{}
	for _, it := range ds.Items {
		for k := range it.Meta {
			if !seen[k] {
				seen[k] = true
				metaKeys = append(metaKeys, k)
			}
		}
	}
	slices.Sort(metaKeys)
	for _, k := range metaKeys {
		if k == "path" || k == "label" || k == "labels" || k == "split" {
			return fileErr(path, "metadata column %q clashes with a manifest column", k)
		}
	}
	labelCol := "label"
	if ds.MultiLabel {
		labelCol = "labels"
	}
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.Write(append([]string{"path", labelCol, "split"}, metaKeys...))
	used := make([]bool, len(ds.Classes))
	for i, it := range ds.Items {
		if err := ds.checkItem(i); err != nil {
			return err
		}
		rel, err := filepath.Rel(absDir, filepath.Join(absRoot, filepath.FromSlash(it.Path)))
		if err != nil || !filepath.IsLocal(rel) {
			return fileErr(path, "image %s is not inside the manifest's directory %s", it.Path, dir)
		}
		var label string
		if ds.MultiLabel {
			var names []string
			for k, v := range it.Labels {
				if v != 0 {
					names = append(names, ds.Classes[k])
					used[k] = true
				}
			}
			label = strings.Join(names, ";")
		} else {
			label = ds.Classes[it.Label]
			used[it.Label] = true
		}
		rec := []string{filepath.ToSlash(rel), label, it.Split}
		for _, k := range metaKeys {
			rec = append(rec, it.Meta[k])
		}
		w.Write(rec)
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return &FileError{Path: path, Err: err}
	}
	var inUse []string
	for k, u := range used {
		if u {
			inUse = append(inUse, ds.Classes[k])
		}
	}
	classesPath := filepath.Join(dir, ClassesFile)
	_, statErr := os.Stat(classesPath)
	if !slices.IsSorted(ds.Classes) || len(inUse) != len(ds.Classes) || statErr == nil {
		classes := strings.Join(ds.Classes, "\n") + "\n"
		if err := WriteFileAtomic(classesPath, []byte(classes)); err != nil {
			return err
		}
	}
	return WriteFileAtomic(path, buf.Bytes())
}

// WriteFileAtomic writes b to path through a temporary file in the same
// directory and a rename, so readers see the old file or the new one,
// never a partial one.
func WriteFileAtomic(path string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return &FileError{Path: path, Err: unwrapPathError(err)}
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return &FileError{Path: path, Err: unwrapPathError(err)}
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return &FileError{Path: path, Err: unwrapPathError(err)}
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return &FileError{Path: path, Err: unwrapPathError(err)}
	}
	if err := tmp.Close(); err != nil {
		return &FileError{Path: path, Err: unwrapPathError(err)}
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return &FileError{Path: path, Err: fmt.Errorf("rename: %w", unwrapPathError(err))}
	}
	return nil
}
