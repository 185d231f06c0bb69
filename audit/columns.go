package audit

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Missing is the group of images that have no value in a column.
const Missing = "(missing)"

// Columns builds the groupings named by spec from the images' metadata
// (meta[i] is image i's, as data.Item.Meta holds a manifest's extra
// columns). spec is a comma-separated list of column names; "a+b" groups
// by the combination of columns a and b, its groups named "va/vb". A name
// that no image carries is an error listing the columns there are.
func Columns(spec string, meta []map[string]string) ([]Column, error) {
	have := map[string]bool{}
	for _, m := range meta {
		for k := range m {
			have[k] = true
		}
	}
	var out []Column
	for _, name := range strings.Split(spec, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		parts := strings.Split(name, "+")
		for i, p := range parts {
			parts[i] = strings.TrimSpace(p)
			if !have[parts[i]] {
				cols := make([]string, 0, len(have))
				for k := range have {
					cols = append(cols, k)
				}
				sort.Strings(cols)
				if len(cols) == 0 {
					return nil, fmt.Errorf("audit: no column %q: the data has no columns besides path, label and split", parts[i])
				}
				return nil, fmt.Errorf("audit: no column %q (columns: %s)", parts[i], strings.Join(cols, ", "))
			}
		}
		col := Column{Name: strings.Join(parts, "+"), Values: make([]string, len(meta))}
		if slices.ContainsFunc(out, func(c Column) bool { return c.Name == col.Name }) {
			continue
		}
		for i, m := range meta {
			vals := make([]string, len(parts))
			for j, p := range parts {
				vals[j] = m[p]
				if vals[j] == "" {
					vals[j] = Missing
				}
			}
			col.Values[i] = strings.Join(vals, "/")
		}
		out = append(out, col)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("audit: no column named in %q", spec)
	}
	return out, nil
}
