package metrics

import (
	"fmt"
	"math"
)

// Task names the kind of classification a Result describes.
const (
	MultiClass = "multiclass" // exactly one class per sample
	MultiLabel = "multilabel" // an independent yes/no per label
)

// Interval is a confidence interval [lo, hi]. Both ends are NaN when no
// interval was computed.
type Interval [2]float64

// Lo returns the lower end.
func (iv Interval) Lo() float64 { return iv[0] }

// Hi returns the upper end.
func (iv Interval) Hi() float64 { return iv[1] }

// Valid reports whether both ends are numbers.
func (iv Interval) Valid() bool { return !math.IsNaN(iv[0]) && !math.IsNaN(iv[1]) }

// Contains reports whether x lies in [lo, hi].
func (iv Interval) Contains(x float64) bool { return iv[0] <= x && x <= iv[1] }

// String formats the interval as "[lo, hi]" with four decimals.
func (iv Interval) String() string { return fmt.Sprintf("[%.4f, %.4f]", iv[0], iv[1]) }

var noInterval = Interval{math.NaN(), math.NaN()}

// Result holds every measure of one evaluation. Fields that do not apply to
// the task are left at their zero value (nil, or NaN for numbers) and are
// absent from the JSON. See the package documentation for the JSON keys.
type Result struct {
	Task    string   // MultiClass or MultiLabel
	N       int      // number of samples
	Classes []string // class or label names, in column order

	Accuracy           float64 // multi-class: argmax prediction correct
	AccuracyCI         Interval
	BalancedAccuracy   float64 // multi-class: mean recall over classes present
	BalancedAccuracyCI Interval
	MacroF1            float64 // mean F1 over classes present in labels or predictions
	MacroF1CI          Interval
	WeightedF1         float64  // multi-class: F1 weighted by support
	AUC                float64  // macro mean of one-vs-rest ROC AUC
	AUCCI              Interval // interval of the macro AUC
	ECE                float64  // multi-class: expected calibration error
	ECECI              Interval
	NLL                float64 // mean negative log-likelihood

	SubsetAccuracy   float64 // multi-label: every label right
	SubsetAccuracyCI Interval
	HammingLoss      float64 // multi-label: fraction of label decisions wrong
	HammingLossCI    Interval
	Threshold        float64 // multi-label: a label is predicted when p > Threshold

	PerClass    []ClassResult // one per class, in column order
	Confusion   [][]int       // multi-class: [true][predicted] counts
	Reliability []Bin         // multi-class: calibration bins behind ECE

	Resamples int     // bootstrap resamples behind the intervals (0: none)
	Level     float64 // confidence level of the intervals, e.g. 0.95
	Seed      uint64  // seed of the bootstrap
}

// ClassResult holds the one-vs-rest measures of one class (or label).
type ClassResult struct {
	Name        string
	Support     int // samples whose true class is this one (multi-label: positives)
	Predicted   int // samples predicted as this class
	Precision   float64
	PrecisionCI Interval
	Recall      float64 // sensitivity
	RecallCI    Interval
	F1          float64
	F1CI        Interval
	AUC         float64 // one-vs-rest ROC AUC; NaN when the class has no positive or no negative
	AUCCI       Interval
	ROC         ROC // curve for plotting; empty when Options.ROCPoints < 0
}

// Bin is one bin of a reliability diagram: the samples whose confidence
// (highest predicted probability) lies in (Lo, Hi].
type Bin struct {
	Lo, Hi     float64
	Count      int
	Confidence float64 // mean confidence in the bin; NaN when empty
	Accuracy   float64 // fraction correct in the bin; NaN when empty
}

// ROC is a receiver operating characteristic curve: point i is the false
// and true positive rate when every sample with score >= Threshold[i] is
// called positive. The first point is (0, 0) with an infinite threshold;
// the last is (1, 1).
type ROC struct {
	FPR, TPR, Threshold []float64
}

// Class returns the result of the named class, or nil.
func (r *Result) Class(name string) *ClassResult {
	for i := range r.PerClass {
		if r.PerClass[i].Name == name {
			return &r.PerClass[i]
		}
	}
	return nil
}
