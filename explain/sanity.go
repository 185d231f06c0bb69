package explain

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strings"

	"github.com/deepscope/deepscope/nn"
	"github.com/deepscope/deepscope/tensor"
)

// Sanity is the model-parameter randomisation test of Adebayo et al.
// (2018, "Sanity checks for saliency maps"): a method whose maps stay the
// same when the model's learned weights are replaced by random ones shows
// the image, not the model. The layers are re-initialised in cascade from
// the top (the head first, then each block below it), and at each stage
// the maps are compared with the trained model's by Spearman rank
// correlation of their absolute values. A faithful method's correlation
// falls towards zero as the cascade goes down.
type Sanity struct {
	// Trained is the model explained. Its weights are changed during the
	// test and restored before it returns.
	Trained nn.Module
	// Fresh is the same architecture with newly initialised weights, the
	// source of the random values (models.New with another seed).
	Fresh nn.Module
}

// SanityRow is one method's mean rank correlation with the trained
// model's maps, per stage of the cascade.
type SanityRow struct {
	Method string
	Rho    []float64 // per stage: mean over images
}

// Stages returns the cascade's stages: the top-level parts of the model
// that own parameters, from the output down ("fc", "layer4", ...). Stage
// k re-initialises the first k+1 of them.
func Stages(m nn.Module) []string {
	var names []string
	seen := map[string]bool{}
	nn.Walk(m, func(name string, _ *nn.Param) {
		top, _, _ := strings.Cut(name, ".")
		if !seen[top] {
			seen[top] = true
			names = append(names, top)
		}
	})
	for i, j := 0, len(names)-1; i < j; i, j = i+1, j-1 {
		names[i], names[j] = names[j], names[i]
	}
	return names
}

// Run explains each image xs[i] (each [1, H, W, C]) for classes[i] with
// every method, on the trained model and at every stage of the cascade, and
// returns the stages and one row per method. progress, when not nil, is
// called after each stage.
func (s Sanity) Run(methods []Method, xs []*tensor.Tensor, classes []int, progress func(stage string)) ([]string, []SanityRow, error) {
	if len(xs) != len(classes) {
		panic("explain: Sanity.Run: one class per image needed")
	}
	trained, fresh := params(s.Trained), params(s.Fresh)
	for name, p := range trained {
		q, ok := fresh[name]
		if !ok || !tensor.SameShape(p.Value, q.Value) {
			return nil, nil, fmt.Errorf("explain: the fresh model does not match the trained one at %s", name)
		}
	}
	saved := map[string][]float32{}
	for name, p := range trained {
		saved[name] = append([]float32(nil), p.Value.Values()...)
	}
	defer func() {
		for name, p := range trained {
			copy(p.Value.Values(), saved[name])
		}
	}()
	explainAll := func() ([][]*tensor.Tensor, error) {
		maps := make([][]*tensor.Tensor, len(methods))
		for mi, me := range methods {
			for i, x := range xs {
				h, err := me.Explain(s.Trained, x, classes[i])
				if err != nil {
					return nil, fmt.Errorf("explain: %s on image %d: %w", me.Name(), i, err)
				}
				maps[mi] = append(maps[mi], h)
			}
		}
		return maps, nil
	}
	ref, err := explainAll()
	if err != nil {
		return nil, nil, err
	}
	stages := Stages(s.Trained)
	rows := make([]SanityRow, len(methods))
	for mi, me := range methods {
		rows[mi].Method = me.Name()
	}
	for _, stage := range stages {
		for name, p := range trained {
			if top, _, _ := strings.Cut(name, "."); top == stage {
				copy(p.Value.Values(), fresh[name].Value.Values())
			}
		}
		maps, err := explainAll()
		if err != nil {
			return nil, nil, err
		}
		for mi := range methods {
			var sum float64
			for i := range xs {
				sum += Spearman(absValues(ref[mi][i]), absValues(maps[mi][i]))
			}
			rows[mi].Rho = append(rows[mi].Rho, sum/float64(len(xs)))
		}
		if progress != nil {
			progress(stage)
		}
	}
	return stages, rows, nil
}

// params returns m's parameters and buffers by full name.
func params(m nn.Module) map[string]*nn.Param {
	ps := map[string]*nn.Param{}
	nn.Walk(m, func(name string, p *nn.Param) { ps[name] = p })
	return ps
}

func absValues(t *tensor.Tensor) []float64 {
	v := t.Contiguous().Values()
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = math.Abs(float64(x))
	}
	return out
}

// Spearman returns the Spearman rank correlation of a and b (ties get
// their mean rank). It is 0 when either is constant, where the correlation
// is undefined.
func Spearman(a, b []float64) float64 {
	if len(a) != len(b) {
		panic("explain: Spearman of slices of different lengths")
	}
	ra, rb := ranks(a), ranks(b)
	n := float64(len(a))
	var ma, mb float64
	for i := range ra {
		ma += ra[i]
		mb += rb[i]
	}
	ma, mb = ma/n, mb/n
	var sab, saa, sbb float64
	for i := range ra {
		da, db := ra[i]-ma, rb[i]-mb
		sab += da * db
		saa += da * da
		sbb += db * db
	}
	if saa == 0 || sbb == 0 {
		return 0
	}
	return sab / math.Sqrt(saa*sbb)
}

// ranks returns the rank of each value (1-based), ties sharing their mean
// rank; NaNs rank lowest.
func ranks(v []float64) []float64 {
	idx := make([]int, len(v))
	for i := range idx {
		idx[i] = i
	}
	key := func(i int) float64 {
		if math.IsNaN(v[i]) {
			return math.Inf(-1)
		}
		return v[i]
	}
	sort.Slice(idx, func(a, b int) bool { return key(idx[a]) < key(idx[b]) })
	r := make([]float64, len(v))
	for i := 0; i < len(idx); {
		j := i
		for j+1 < len(idx) && key(idx[j+1]) == key(idx[i]) {
			j++
		}
		mean := float64(i+j)/2 + 1
		for k := i; k <= j; k++ {
			r[idx[k]] = mean
		}
		i = j + 1
	}
	return r
}

// WriteSanityTable writes the rank correlations as a Markdown table, one
// row per method and one column per stage of the cascade ("+layer4" means
// everything from the top down to layer4 is random).
func WriteSanityTable(w io.Writer, stages []string, rows []SanityRow) error {
	var b strings.Builder
	b.WriteString("| method |")
	for i, s := range stages {
		if i > 0 {
			s = "+" + s
		}
		fmt.Fprintf(&b, " %s |", s)
	}
	b.WriteString("\n|---|")
	b.WriteString(strings.Repeat("---:|", len(stages)))
	b.WriteString("\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| %s |", r.Method)
		for _, v := range r.Rho {
			fmt.Fprintf(&b, " %.3f |", v)
		}
		b.WriteString("\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}
