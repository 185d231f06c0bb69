package data

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// OpenImageFolder indexes a directory with one sub-directory per class, as
// torchvision's ImageFolder does: classes are the sub-directory names in
// sorted order, and every file with an image extension (.png, .jpg, .jpeg,
// .bmp, .tif, .tiff, any case) below a class directory is an item of that
// class. Hidden files and directories are skipped; other files are listed
// in Ignored. Files are not opened.
func OpenImageFolder(dir string) (*Dataset, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, &FileError{Path: dir, Err: unwrapPathError(err)}
	}
	ds := &Dataset{Root: dir, Source: "imagefolder"}
	for _, e := range entries {
		if isClassDir(dir, e) {
			ds.Classes = append(ds.Classes, e.Name())
		} else if !strings.HasPrefix(e.Name(), ".") {
			ds.Ignored = append(ds.Ignored, e.Name())
		}
	}
	slices.Sort(ds.Classes)
	if len(ds.Classes) == 0 {
		return nil, fileErr(dir, "no class sub-directories (an ImageFolder has one directory of images per class)")
	}
	for label, class := range ds.Classes {
		err := filepath.WalkDir(filepath.Join(dir, class), func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return &FileError{Path: p, Err: unwrapPathError(err)}
			}
			if strings.HasPrefix(d.Name(), ".") {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			if d.IsDir() {
				return nil
			}
			rel, _ := filepath.Rel(dir, p)
			rel = filepath.ToSlash(rel)
			if !isImageName(d.Name()) {
				ds.Ignored = append(ds.Ignored, rel)
				return nil
			}
			ds.Items = append(ds.Items, Item{Path: rel, Label: label})
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	if len(ds.Items) == 0 {
		return nil, fileErr(dir, "no images in the class directories %v", ds.Classes)
	}
	return ds, nil
}

// isClassDir reports whether e (in dir) is a visible directory, following
// symbolic links.
func isClassDir(dir string, e fs.DirEntry) bool {
	if strings.HasPrefix(e.Name(), ".") {
		return false
	}
	if e.IsDir() {
		return true
	}
	if e.Type()&fs.ModeSymlink != 0 {
		st, err := os.Stat(filepath.Join(dir, e.Name()))
		return err == nil && st.IsDir()
	}
	return false
}
