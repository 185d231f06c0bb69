package data

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// ClassesFile is the optional file beside a manifest that fixes the class
// names and their order, one per line. Without it the classes are the
// manifest's distinct labels, sorted.
const ClassesFile = "classes.txt"

// OpenManifest reads a CSV manifest: a header row, then one row per image.
// Columns: path (relative to the CSV's directory, which becomes Root), label
// (a class name) or labels (class names separated by ";" for multi-label
// data), optionally split (train, val or test), and any other columns, kept
// in Item.Meta (patient, slide, site, scanner, ...). Paths that leave the
// root, labels not in classes.txt, empty cells in required columns,
// repeated paths and unknown split names are errors naming the file, line
// and value. Image files are not opened.
func OpenManifest(csvPath string) (*Dataset, error) {
	f, err := os.Open(csvPath)
	if err != nil {
		return nil, &FileError{Path: csvPath, Err: unwrapPathError(err)}
	}
	defer f.Close()
	r := csv.NewReader(bufio.NewReader(f))
	r.ReuseRecord = false
	header, err := r.Read()
	if err == io.EOF {
		return nil, fileErr(csvPath, "empty manifest (no header row)")
	}
	if err != nil {
		return nil, csvErr(csvPath, err)
	}
	col := map[string]int{}
	for i, h := range header {
		h = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
		if _, dup := col[h]; dup {
			return nil, fileErr(csvPath, "line 1: column %q appears twice", h)
		}
		col[h] = i
		header[i] = h
	}
	pathCol, ok := col["path"]
	if !ok {
		return nil, fileErr(csvPath, "line 1: no %q column (columns: %s)", "path", strings.Join(header, ","))
	}
	labelCol, single := col["label"]
	labelsCol, multi := col["labels"]
	if single == multi {
		return nil, fileErr(csvPath, "line 1: need exactly one of the columns %q and %q (columns: %s)", "label", "labels", strings.Join(header, ","))
	}
	if multi {
		labelCol = labelsCol
	}
	splitCol, hasSplit := col["split"]

	dir := filepath.Dir(csvPath)
	ds := &Dataset{Root: dir, MultiLabel: multi, Source: "manifest:" + filepath.Base(csvPath)}
	fixed, err := readClasses(filepath.Join(dir, ClassesFile))
	if err != nil {
		return nil, err
	}
	type row struct {
		line   int
		labels []string
	}
	var rows []row
	seen := map[string]int{}
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, csvErr(csvPath, err)
		}
		line, _ := r.FieldPos(0)
		cell := func(c int) string { return strings.TrimSpace(rec[c]) }
		p := cell(pathCol)
		if p == "" {
			return nil, fileErr(csvPath, "line %d: empty path", line)
		}
		clean := filepath.Clean(filepath.FromSlash(p))
		if !filepath.IsLocal(clean) {
			return nil, fileErr(csvPath, "line %d: path %q is outside the dataset root %s", line, p, dir)
		}
		p = filepath.ToSlash(clean)
		if prev, dup := seen[p]; dup {
			return nil, fileErr(csvPath, "line %d: path %q already listed on line %d", line, p, prev)
		}
		seen[p] = line
		it := Item{Path: p}
		var labels []string
		if multi {
			for _, l := range strings.Split(cell(labelCol), ";") {
				if l = strings.TrimSpace(l); l != "" {
					labels = append(labels, l)
				}
			}
		} else {
			l := cell(labelCol)
			if l == "" {
				return nil, fileErr(csvPath, "line %d: empty label for %q", line, p)
			}
			labels = []string{l}
		}
		if hasSplit {
			s, err := parseSplit(cell(splitCol))
			if err != nil {
				return nil, fileErr(csvPath, "line %d: %v", line, err)
			}
			it.Split = s
		}
		for name, c := range col {
			if c != pathCol && c != labelCol && !(hasSplit && c == splitCol) {
				if it.Meta == nil {
					it.Meta = map[string]string{}
				}
				it.Meta[name] = cell(c)
			}
		}
		ds.Items = append(ds.Items, it)
		rows = append(rows, row{line, labels})
	}
	if len(ds.Items) == 0 {
		return nil, fileErr(csvPath, "no rows after the header")
	}
	ds.Classes = fixed
	if ds.Classes == nil {
		set := map[string]bool{}
		for _, r := range rows {
			for _, l := range r.labels {
				set[l] = true
			}
		}
		for l := range set {
			ds.Classes = append(ds.Classes, l)
		}
		slices.Sort(ds.Classes)
	}
	idx := classIndex(ds.Classes)
	for i, r := range rows {
		it := &ds.Items[i]
		if multi {
			it.Label = -1
			it.Labels = make([]float32, len(ds.Classes))
		}
		for _, l := range r.labels {
			k, ok := idx[l]
			if !ok {
				return nil, fileErr(csvPath, "line %d: unknown label %q (classes in %s: %s)", r.line, l, ClassesFile, strings.Join(ds.Classes, ", "))
			}
			if multi {
				it.Labels[k] = 1
			} else {
				it.Label = k
			}
		}
	}
	return ds, nil
}

// parseSplit accepts train, val (or valid, validation) and test.
func parseSplit(s string) (string, error) {
	switch strings.ToLower(s) {
	case Train:
		return Train, nil
	case Val, "valid", "validation":
		return Val, nil
	case Test:
		return Test, nil
	}
	return "", fmt.Errorf("split %q is not train, val or test", s)
}

func csvErr(path string, err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return fileErr(path, "line %d: %v", pe.Line, pe.Err)
	}
	return &FileError{Path: path, Err: err}
}

// readClasses reads a classes file, or returns nil when there is none.
func readClasses(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, &FileError{Path: path, Err: unwrapPathError(err)}
	}
	var classes []string
	seen := map[string]int{}
	for i, l := range strings.Split(string(b), "\n") {
		l = strings.TrimSpace(l)
		if l == "" {
			continue
		}
		if prev, dup := seen[l]; dup {
			return nil, fileErr(path, "line %d: class %q already on line %d", i+1, l, prev)
		}
		seen[l] = i + 1
		classes = append(classes, l)
	}
	if len(classes) == 0 {
		return nil, fileErr(path, "no class names")
	}
	return classes, nil
}
