package explain

import (
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"sort"
	"strings"
	"time"

	"github.com/deepscope/deepscope/nn"
	"github.com/deepscope/deepscope/tensor"
)

// Faithfulness measures how well a map ranks pixels by what the model
// needs, with the deletion and insertion curves of Petsiuk et al. (2018,
// RISE): pixels are taken in order of decreasing map value (ties in a
// seeded random order) and, in Steps equal steps, deleted from the image
// (set to the Delete reference) or inserted into the Insert reference. The
// class's output is read after every step; the area under the deletion
// curve should be small (the output falls as soon as the important pixels
// go) and the area under the insertion curve large.
type Faithfulness struct {
	Steps  int       // steps from none to all pixels; 0 means 32
	Batch  int       // images per pass; 0 means DefaultBatch
	Output Output    // output followed (Probability)
	Delete Reference // what deleted pixels become; "" means the mean colour (zero)
	Insert Reference // where insertion starts; "" means the blurred image
	Seed   uint64    // seed of the order among equal map values
}

// Curves are the deletion and insertion curves of one map: the class's
// output after 0, 1, ..., Steps steps, and the areas under them with the
// fraction of pixels on the x axis (so both lie in [0, 1] for
// probabilities).
type Curves struct {
	Deletion, Insertion       []float64
	DeletionAUC, InsertionAUC float64
}

// Curves returns the deletion and insertion curves of heat [H, W] for
// class of x [1, H, W, C].
func (f Faithfulness) Curves(m nn.Module, x *tensor.Tensor, class int, heat *tensor.Tensor) (c *Curves, err error) {
	defer guard(&err, x)
	r, err := newRunner(m, x, class, f.Batch)
	if err != nil {
		return nil, err
	}
	if heat == nil || heat.Dims() != 2 || heat.Dim(0) != r.h || heat.Dim(1) != r.w {
		return nil, fmt.Errorf("explain: map %v does not match image %v", shapeOrNil(heat), x.Shape)
	}
	steps := f.Steps
	if steps <= 0 {
		steps = 32
	}
	del := f.Delete
	if del.Baseline == "" {
		del.Baseline = BaselineMean
	}
	ins := f.Insert
	if ins.Baseline == "" {
		ins.Baseline = BaselineBlur
	}
	delRef, err := del.image(r.x, r.h, r.w, r.c)
	if err != nil {
		return nil, err
	}
	insRef, err := ins.image(r.x, r.h, r.w, r.c)
	if err != nil {
		return nil, err
	}
	order := rankPixels(heat.Contiguous().Values(), f.Seed)
	npx := len(order)
	ch := r.c
	// Images 0..steps delete, steps+1..2*steps+1 insert, k/steps of the pixels each.
	ys := r.scores(2*(steps+1), f.Output, func(i int, img []float32) {
		base, src := r.x, delRef
		k := i
		if i > steps {
			base, src, k = insRef, r.x, i-steps-1
		}
		copy(img, base)
		for _, p := range order[:k*npx/steps] {
			copy(img[p*ch:(p+1)*ch], src[p*ch:(p+1)*ch])
		}
	})
	c = &Curves{Deletion: ys[:steps+1], Insertion: ys[steps+1:]}
	c.DeletionAUC, c.InsertionAUC = trapezoid(c.Deletion), trapezoid(c.Insertion)
	return c, nil
}

func shapeOrNil(t *tensor.Tensor) []int {
	if t == nil {
		return nil
	}
	return t.Shape
}

// rankPixels returns pixel indices by decreasing value, ties (and NaNs,
// last) in an order drawn from seed.
func rankPixels(v []float32, seed uint64) []int {
	rng := rand.New(rand.NewPCG(seed, 0x52414e4b))
	order := rng.Perm(len(v))
	key := func(i int) float64 {
		x := float64(v[i])
		if math.IsNaN(x) {
			return math.Inf(-1)
		}
		return x
	}
	sort.SliceStable(order, func(a, b int) bool { return key(order[a]) > key(order[b]) })
	return order
}

// trapezoid returns the area under y sampled evenly on [0, 1].
func trapezoid(y []float64) float64 {
	if len(y) < 2 {
		return 0
	}
	var s float64
	for i := 1; i < len(y); i++ {
		s += (y[i-1] + y[i]) / 2
	}
	return s / float64(len(y)-1)
}

// FaithfulnessRow is one method's faithfulness over a sample of images:
// the mean areas under the deletion and insertion curves with their
// standard errors, and the mean time the method took per image.
type FaithfulnessRow struct {
	Method                 string
	N                      int
	Deletion, DeletionSE   float64
	Insertion, InsertionSE float64
	Seconds                float64
}

// Evaluate computes the faithfulness of each method on images xs (each
// [1, H, W, C]) for the given classes. progress, when not nil, is called
// after each image of each method.
func (f Faithfulness) Evaluate(m nn.Module, methods []Method, xs []*tensor.Tensor, classes []int, progress func(method string, done, total int)) ([]FaithfulnessRow, error) {
	if len(xs) != len(classes) {
		panic("explain: Evaluate: one class per image needed")
	}
	var rows []FaithfulnessRow
	for _, me := range methods {
		var dels, inss []float64
		var took time.Duration
		for i, x := range xs {
			start := time.Now()
			heat, err := me.Explain(m, x, classes[i])
			took += time.Since(start)
			if err != nil {
				return nil, fmt.Errorf("explain: %s on image %d: %w", me.Name(), i, err)
			}
			c, err := f.Curves(m, x, classes[i], heat)
			if err != nil {
				return nil, err
			}
			dels, inss = append(dels, c.DeletionAUC), append(inss, c.InsertionAUC)
			if progress != nil {
				progress(me.Name(), i+1, len(xs))
			}
		}
		row := FaithfulnessRow{Method: me.Name(), N: len(xs)}
		row.Deletion, row.DeletionSE = meanSE(dels)
		row.Insertion, row.InsertionSE = meanSE(inss)
		if len(xs) > 0 {
			row.Seconds = took.Seconds() / float64(len(xs))
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// meanSE returns the mean of v and its standard error.
func meanSE(v []float64) (mean, se float64) {
	if len(v) == 0 {
		return math.NaN(), math.NaN()
	}
	for _, x := range v {
		mean += x
	}
	mean /= float64(len(v))
	if len(v) < 2 {
		return mean, 0
	}
	var ss float64
	for _, x := range v {
		ss += (x - mean) * (x - mean)
	}
	return mean, math.Sqrt(ss/float64(len(v)-1)) / math.Sqrt(float64(len(v)))
}

// WriteFaithfulnessTable writes rows as a Markdown table: deletion AUC
// (lower is better), insertion AUC (higher is better), their difference and
// seconds per image.
func WriteFaithfulnessTable(w io.Writer, rows []FaithfulnessRow) error {
	var b strings.Builder
	b.WriteString("| method | images | deletion AUC ↓ | insertion AUC ↑ | insertion − deletion | s/image |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| %s | %d | %.3f ± %.3f | %.3f ± %.3f | %.3f | %.3f |\n",
			r.Method, r.N, r.Deletion, r.DeletionSE, r.Insertion, r.InsertionSE, r.Insertion-r.Deletion, r.Seconds)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
