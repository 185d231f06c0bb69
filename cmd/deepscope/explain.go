package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/deepscope/deepscope/data"
	"github.com/deepscope/deepscope/explain"
	"github.com/deepscope/deepscope/models"
	"github.com/deepscope/deepscope/nn"
	"github.com/deepscope/deepscope/tensor"
	"github.com/deepscope/deepscope/train"
)

func init() { commands = append(commands, newExplainCmd) }

// explainFlags are the explain command's settings.
type explainFlags struct {
	dir, methods, class, out, baseline string
	dataPath, split                    string
	n, curveSteps                      int
	sanity, faithfulness               bool
	o                                  explain.Options
}

func newExplainCmd() *cobra.Command {
	var f explainFlags
	c := &cobra.Command{
		Use:   "explain --model RUN [--method gradcam] [--class C] [--out DIR] IMAGE|DIR...",
		Short: "Show which pixels a trained model's decision rests on: Grad-CAM, IG, occlusion, LIME, SHAP...",
		Long: `explain writes, for each image (directories are searched for PNG, JPEG, TIFF and BMP
files), OUT/NAME.METHOD.png, the map drawn over the image as the model saw it (cropped
as in training), and OUT/NAME.METHOD.json with the map's values, the class explained,
the predicted class and the probabilities. The class is the predicted one unless --class
names another (by name or index). Methods (comma-separated, or "all"):
  gradcam, gradcampp   Grad-CAM and Grad-CAM++ on the last feature map (ResNet, CellNet)
  saliency, smoothgrad gradient magnitude, plain or averaged over noisy copies
  ig                   integrated gradients from a baseline (--baseline, --steps)
  occlusion            output drop when a square is hidden (--patch, --stride)
  lime, shap           LIME and Kernel SHAP on SLIC superpixels (--segments, --samples)

--faithfulness measures every method (or those of --method) on --n images of a split
(--data, --split; default the run's own test split), each explained for its predicted
class: pixels are deleted (set to the mean colour) or inserted (into a blurred copy) in
the order the map ranks them, and the areas under the class-probability curves are
printed as a Markdown table (deletion: lower is better; insertion: higher is better),
with a random map as the floor. --sanity runs the model-parameter randomisation
check (Adebayo et al. 2018) on the images given, or on --n images of the split, and
prints each method's rank correlation with the trained model's maps as the layers are
re-initialised from the top; low values mean the map depends on what the model learned.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := train.Load(f.dir)
			if err != nil {
				return err
			}
			if err := f.finish(cmd, m); err != nil {
				return err
			}
			switch {
			case f.faithfulness && f.sanity:
				return fmt.Errorf("explain: --faithfulness and --sanity are separate runs")
			case f.faithfulness:
				return runFaithfulness(cmd, m, &f)
			case f.sanity:
				return runSanity(cmd, m, &f, args)
			case len(args) == 0:
				return fmt.Errorf("explain: name images or directories to explain")
			}
			return runExplain(cmd, m, &f, args)
		},
	}
	fl := c.Flags()
	fl.StringVar(&f.dir, "model", "", "run directory (required)")
	fl.StringVar(&f.methods, "method", "gradcam", `methods, comma-separated, or "all"`)
	fl.StringVar(&f.class, "class", "", "class to explain, by name or index (default: the predicted one)")
	fl.StringVar(&f.out, "out", "explanations", "directory for the PNG and JSON files")
	fl.StringVar(&f.baseline, "baseline", "mean", "reference image for ig, occlusion, lime and shap: mean, black or blur")
	fl.IntVar(&f.o.Steps, "steps", 0, "integrated gradients' steps (default 64)")
	fl.IntVar(&f.o.Samples, "samples", 0, "noisy copies for smoothgrad (32), perturbations for lime and shap (512)")
	fl.IntVar(&f.o.Segments, "segments", 0, "superpixels for lime and shap (default 48)")
	fl.IntVar(&f.o.Patch, "patch", 0, "occlusion square side (default image side / 8)")
	fl.IntVar(&f.o.Stride, "stride", 0, "occlusion step (default patch / 2)")
	fl.IntVar(&f.o.Batch, "batch", explain.DefaultBatch, "images per forward pass")
	fl.Uint64Var(&f.o.Seed, "seed", 1, "seed for sampling methods and image samples")
	fl.BoolVar(&f.faithfulness, "faithfulness", false, "measure deletion and insertion AUC per method on a data sample")
	fl.BoolVar(&f.sanity, "sanity", false, "run the model-parameter randomisation sanity check")
	fl.StringVar(&f.dataPath, "data", "", "dataset for --faithfulness and --sanity (default: the run's own)")
	fl.StringVar(&f.split, "split", "test", "split of --data to sample")
	fl.IntVar(&f.n, "n", 0, "images to sample (default 100 for --faithfulness, 8 for --sanity)")
	fl.IntVar(&f.curveSteps, "curve-steps", 32, "steps of the deletion and insertion curves")
	c.MarkFlagRequired("model")
	return c
}

// finish completes the options from the run: black's normalised value and
// the output that perturbation methods follow.
func (f *explainFlags) finish(cmd *cobra.Command, m *train.Model) error {
	b, err := explain.ParseBaseline(f.baseline)
	if err != nil {
		return err
	}
	f.o.Baseline = b
	f.o.Black = explain.BlackFor(m.Info.Mean, m.Info.Std)
	if len(f.o.Black) != m.Info.Channels {
		f.o.Black = nil // a run without normalisation: black is 0
		if m.Info.Channels > 0 {
			f.o.Black = make([]float32, m.Info.Channels)
		}
	}
	if m.Info.MultiLabel {
		f.o.Output = explain.Sigmoid
	}
	if (f.faithfulness || f.sanity) && !cmd.Flags().Changed("method") {
		f.methods = "all"
	}
	return nil
}

// methodList makes the methods named in f.methods; "all" is every standard
// method, plus the random map as the floor for --faithfulness and --sanity.
func (f *explainFlags) methodList(withRandom bool) ([]explain.Method, error) {
	var names []string
	for _, n := range strings.Split(f.methods, ",") {
		n = strings.TrimSpace(strings.ToLower(n))
		if n == "all" {
			names = append(names, explain.Standard()...)
			if withRandom {
				names = append(names, "random")
			}
		} else if n != "" {
			names = append(names, n)
		}
	}
	var ms []explain.Method
	for _, n := range names {
		me, err := explain.New(n, f.o)
		if err != nil {
			return nil, err
		}
		ms = append(ms, me)
	}
	if len(ms) == 0 {
		return nil, fmt.Errorf("explain: no method named")
	}
	return ms, nil
}

// classIndex resolves --class against the run's classes.
func classIndex(m *train.Model, s string) (int, error) {
	for i, c := range m.Info.Classes {
		if strings.EqualFold(c, s) {
			return i, nil
		}
	}
	if i, err := strconv.Atoi(s); err == nil && i >= 0 && i < len(m.Info.Classes) {
		return i, nil
	}
	return 0, fmt.Errorf("explain: --class %q is not one of the model's classes (%s) or an index below %d",
		s, strings.Join(m.Info.Classes, ", "), len(m.Info.Classes))
}

// modelInput prepares a decoded image as the model's input [1, S, S, C].
func modelInput(m *train.Model, img *tensor.Tensor) *tensor.Tensor {
	x := m.Prepare(img)
	return x.Reshape(append([]int{1}, x.Shape...)...)
}

// probabilities returns the model's class probabilities for x [1, S, S, C].
func probabilities(m *train.Model, x *tensor.Tensor) []float64 {
	var scratch *tensor.Tensor
	p := train.Probabilities(m.Net, x, m.Info, false, &scratch).Values()
	out := make([]float64, len(p))
	for i, v := range p {
		out[i] = float64(v)
	}
	return out
}

func argmax(p []float64) int {
	b := 0
	for i := range p {
		if p[i] > p[b] {
			b = i
		}
	}
	return b
}

// explanationJSON is what NAME.METHOD.json holds.
type explanationJSON struct {
	Path       string             `json:"path"`
	Method     string             `json:"method"`
	Class      string             `json:"class"`
	ClassIndex int                `json:"class_index"`
	Predicted  string             `json:"predicted"`
	Probs      map[string]float64 `json:"probs"`
	Explains   string             `json:"explains"` // what number the map attributes
	Height     int                `json:"height"`
	Width      int                `json:"width"`
	Map        [][]float32        `json:"map"` // rows of the map, at the model's input size
}

func runExplain(cmd *cobra.Command, m *train.Model, f *explainFlags, args []string) error {
	methods, err := f.methodList(false)
	if err != nil {
		return err
	}
	paths, err := expandImages(args)
	if err != nil {
		return err
	}
	forced := -1
	if f.class != "" {
		if forced, err = classIndex(m, f.class); err != nil {
			return err
		}
	}
	used := map[string]int{}
	failed := 0
	for _, p := range paths {
		name := strings.TrimSuffix(filepath.Base(p), filepath.Ext(p))
		if used[name]++; used[name] > 1 {
			name += "-" + strconv.Itoa(used[name])
		}
		if err := explainImage(cmd, m, f, methods, p, name, forced); err != nil {
			fmt.Fprintln(cmd.ErrOrStderr(), err)
			failed++
		}
	}
	if failed > 0 {
		return fmt.Errorf("explain: %d of %d images failed", failed, len(paths))
	}
	return nil
}

// explainImage writes the overlay and values of every method for one image.
func explainImage(cmd *cobra.Command, m *train.Model, f *explainFlags, methods []explain.Method, path, name string, forced int) error {
	img, err := data.Decode(path)
	if err != nil {
		return err
	}
	x := modelInput(m, img)
	probs := probabilities(m, x)
	pred := argmax(probs)
	class := pred
	if forced >= 0 {
		class = forced
	}
	pm := make(map[string]float64, len(probs))
	for i, p := range probs {
		pm[m.Info.Classes[i]] = p
	}
	view := displayImage(m, img)
	for _, me := range methods {
		heat, err := me.Explain(m.Net, x, class)
		if err != nil {
			return fmt.Errorf("explain: %s: %w", path, err)
		}
		var buf bytes.Buffer
		if err := png.Encode(&buf, explain.Overlay(view, heat)); err != nil {
			return err
		}
		base := filepath.Join(f.out, name+"."+me.Name())
		if err := writeAtomic(base+".png", buf.Bytes()); err != nil {
			return err
		}
		h, w := heat.Dim(0), heat.Dim(1)
		js := explanationJSON{Path: path, Method: me.Name(), Class: m.Info.Classes[class], ClassIndex: class,
			Predicted: m.Info.Classes[pred], Probs: pm, Explains: explained(me, f.o.Output), Height: h, Width: w}
		for y := 0; y < h; y++ {
			js.Map = append(js.Map, heat.Data[y*w:(y+1)*w])
		}
		b, err := json.Marshal(js)
		if err != nil {
			return err
		}
		if err := writeAtomic(base+".json", append(b, '\n')); err != nil {
			return err
		}
		fmt.Fprintf(cmd.OutOrStdout(), "%s\t%s\t%s\t%s (%.1f%%)\n", path, me.Name(), base+".png", m.Info.Classes[class], 100*probs[class])
	}
	return nil
}

// explained says what number a method's map attributes.
func explained(me explain.Method, o explain.Output) string {
	switch me.Name() {
	case "occlusion", "lime", "shap":
		return o.String()
	}
	return "logit"
}

// writeAtomic writes a file through a temporary file and a rename,
// creating its directory.
func writeAtomic(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("explain: %w", err)
	}
	return data.WriteFileAtomic(path, b)
}

// displayImage returns the image as the model saw it (the run's crop) at a
// size fit for viewing, 224 to 512 pixels a side, in RGB.
func displayImage(m *train.Model, img *tensor.Tensor) *tensor.Tensor {
	side := float64(min(img.Dim(0), img.Dim(1)))
	if c := m.Info.Config.Crop; c > 0 && c < 1 {
		side *= c
	}
	s := min(max(int(math.Round(side)), 224), 512)
	return data.Preprocess{Size: s, Crop: m.Info.Config.Crop, Channels: 3}.Apply(img)
}

// sample returns up to n images of a split, drawn with a seed, as model
// inputs with their predicted classes.
func sample(m *train.Model, f *explainFlags, n int) ([]*tensor.Tensor, []int, error) {
	path := f.dataPath
	if path == "" {
		path = m.Info.Config.Data
		if m.Info.Config.Split != "" {
			path = m.Info.Config.Split
		}
	}
	ds, err := data.Open(path)
	if err != nil {
		return nil, nil, err
	}
	sub := ds.Subset(f.split)
	if sub.Len() == 0 {
		return nil, nil, fmt.Errorf("explain: %s has no images in split %q (splits: %v)", path, f.split, ds.Splits())
	}
	order := rand.New(rand.NewPCG(f.o.Seed, 0x73616d70)).Perm(sub.Len())
	var xs []*tensor.Tensor
	var classes []int
	for _, i := range order {
		if len(xs) == n {
			break
		}
		img, err := sub.Image(i)
		if err != nil {
			return nil, nil, err
		}
		x := modelInput(m, img)
		xs, classes = append(xs, x), append(classes, argmax(probabilities(m, x)))
	}
	return xs, classes, nil
}

func runFaithfulness(cmd *cobra.Command, m *train.Model, f *explainFlags) error {
	methods, err := f.methodList(true)
	if err != nil {
		return err
	}
	n := f.n
	if n <= 0 {
		n = 100
	}
	xs, classes, err := sample(m, f, n)
	if err != nil {
		return err
	}
	log := cmd.ErrOrStderr()
	fmt.Fprintf(log, "faithfulness of %d methods on %d %s images, %d curve steps, predicted classes\n", len(methods), len(xs), f.split, f.curveSteps)
	fa := explain.Faithfulness{Steps: f.curveSteps, Batch: f.o.Batch, Output: f.o.Output, Delete: explain.Reference{Baseline: explain.BaselineMean},
		Insert: explain.Reference{Baseline: explain.BaselineBlur}, Seed: f.o.Seed}
	rows, err := fa.Evaluate(m.Net, methods, xs, classes, func(method string, done, total int) {
		if done == total {
			fmt.Fprintf(log, "  %s done\n", method)
		}
	})
	if err != nil {
		return err
	}
	return explain.WriteFaithfulnessTable(cmd.OutOrStdout(), rows)
}

func runSanity(cmd *cobra.Command, m *train.Model, f *explainFlags, args []string) error {
	methods, err := f.methodList(true)
	if err != nil {
		return err
	}
	var xs []*tensor.Tensor
	var classes []int
	if len(args) > 0 {
		paths, err := expandImages(args)
		if err != nil {
			return err
		}
		for _, p := range paths {
			img, err := data.Decode(p)
			if err != nil {
				return err
			}
			x := modelInput(m, img)
			xs, classes = append(xs, x), append(classes, argmax(probabilities(m, x)))
		}
	} else {
		n := f.n
		if n <= 0 {
			n = 8
		}
		if xs, classes, err = sample(m, f, n); err != nil {
			return err
		}
	}
	if f.class != "" {
		c, err := classIndex(m, f.class)
		if err != nil {
			return err
		}
		for i := range classes {
			classes[i] = c
		}
	}
	info := m.Info
	fresh, err := models.New(info.Config.Model, rand.New(rand.NewPCG(f.o.Seed, 0x5a17)), info.ModelSpec())
	if err != nil {
		return err
	}
	nn.SetTraining(fresh, false)
	log := cmd.ErrOrStderr()
	fmt.Fprintf(log, "sanity check of %d methods on %d images: Spearman correlation of |map| with the trained model's\n", len(methods), len(xs))
	stages, rows, err := explain.Sanity{Trained: m.Net, Fresh: fresh}.Run(methods, xs, classes, func(stage string) {
		fmt.Fprintf(log, "  randomised down to %s\n", stage)
	})
	if err != nil {
		return err
	}
	return explain.WriteSanityTable(cmd.OutOrStdout(), stages, rows)
}
