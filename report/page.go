package report

import (
	"html/template"
	"time"

	"github.com/deepscope/deepscope/metrics"
)

// Page is everything one report shows. Only Title and Test are needed;
// every other part is drawn when present and left out when empty.
type Page struct {
	Title   string
	Dataset Dataset
	Run     Run
	// Epochs are the learning curves, one entry per epoch, in order.
	Epochs []Epoch
	// Test holds the measures on the held-out set (from metrics.Evaluate
	// or metrics.EvaluateMultiLabel).
	Test *metrics.Result
	// Mistakes are wrong predictions to show, most confident first; the
	// page shows them in the order given.
	Mistakes []Example
	// Explanations are saliency maps or other figures, with captions.
	Explanations []Figure
	// Sections are further parts (a privacy ledger, an audit table)
	// placed after the explanations.
	Sections []Section
	// Config is the run's configuration, shown as indented JSON.
	Config any
	// Generated is the time printed in the header; zero means now.
	Generated time.Time
}

// Dataset says what the model was tested on.
type Dataset struct {
	Name     string // published name, e.g. "PBC (BloodMNIST)"
	Citation string // reference line for the data
	Split    string // the split measured, e.g. "test"
	Train    int    // images the model was trained on (0: unknown)
	Val      int    // images used for validation (0: unknown)
}

// Run summarises how the model was trained.
type Run struct {
	Model        string        // architecture, e.g. "ResNet-18"
	InputSize    int           // side of the square input in pixels
	Epochs       int           // epochs trained
	BestEpoch    int           // epoch of the kept checkpoint (0: not marked)
	WallTime     time.Duration // training time
	ImagesPerSec float64       // training throughput
	Device       string        // e.g. "CPU, 2 threads (AMD EPYC)"
	Version      string        // deepscope version
	// Temperature divides the logits before the softmax, fitted on the
	// validation split (0: none).
	Temperature float64
}

// Epoch is one point of the learning curves. A series whose values are
// all zero or NaN is treated as not recorded and left out; a NaN value
// leaves a gap.
type Epoch struct {
	Epoch       int
	TrainLoss   float64
	ValLoss     float64
	ValAccuracy float64
	ValAUC      float64
	LR          float64
}

// Example is one image with its true and predicted class.
type Example struct {
	Image      []byte // encoded PNG or JPEG
	Path       string // where the image came from
	True       string
	Predicted  string
	Confidence float64 // probability of the predicted class
}

// Figure is an image with a caption, such as a saliency map.
type Figure struct {
	Image   []byte // encoded PNG or JPEG
	Caption string
}

// Section is an extra part of the page. Body is inserted as is, so it must
// be trusted, well-formed HTML: escape any text from outside (html/template
// or html.EscapeString does), or build it with Table.
type Section struct {
	Title string
	Body  template.HTML
}
