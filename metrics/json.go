package metrics

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
)

// num is a float64 that is written as null when it is NaN or infinite
// (encoding/json refuses those) and read back from null as NaN.
type num float64

func (v num) MarshalJSON() ([]byte, error) {
	f := float64(v)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return []byte("null"), nil
	}
	return strconv.AppendFloat(nil, f, 'g', -1, 64), nil
}

func (v *num) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte("null")) {
		*v = num(math.NaN())
		return nil
	}
	f, err := strconv.ParseFloat(string(b), 64)
	*v = num(f)
	return err
}

// MarshalJSON writes the interval as [lo, hi], with null for a NaN end.
func (iv Interval) MarshalJSON() ([]byte, error) {
	return json.Marshal([2]num{num(iv[0]), num(iv[1])})
}

// UnmarshalJSON reads [lo, hi]; null ends become NaN.
func (iv *Interval) UnmarshalJSON(b []byte) error {
	var v [2]num
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*iv = Interval{float64(v[0]), float64(v[1])}
	return nil
}

// jsonResult is the wire form of Result: pointer fields are omitted when a
// measure does not apply to the task.
type jsonResult struct {
	Task    string   `json:"task"`
	N       int      `json:"n"`
	Classes []string `json:"classes"`

	Accuracy           *num      `json:"accuracy,omitempty"`
	AccuracyCI         *Interval `json:"accuracy_ci,omitempty"`
	BalancedAccuracy   *num      `json:"balanced_accuracy,omitempty"`
	BalancedAccuracyCI *Interval `json:"balanced_accuracy_ci,omitempty"`
	SubsetAccuracy     *num      `json:"subset_accuracy,omitempty"`
	SubsetAccuracyCI   *Interval `json:"subset_accuracy_ci,omitempty"`
	HammingLoss        *num      `json:"hamming_loss,omitempty"`
	HammingLossCI      *Interval `json:"hamming_loss_ci,omitempty"`
	Threshold          *num      `json:"threshold,omitempty"`
	MacroF1            num       `json:"macro_f1"`
	MacroF1CI          Interval  `json:"macro_f1_ci"`
	WeightedF1         *num      `json:"weighted_f1,omitempty"`
	AUC                num       `json:"auc"`
	AUCCI              Interval  `json:"auc_ci"`
	ECE                *num      `json:"ece,omitempty"`
	ECECI              *Interval `json:"ece_ci,omitempty"`
	NLL                num       `json:"nll"`

	PerClass    []jsonClass `json:"per_class"`
	Confusion   [][]int     `json:"confusion,omitempty"`
	Reliability []jsonBin   `json:"reliability,omitempty"`
	Bootstrap   jsonBoot    `json:"bootstrap"`
}

type jsonClass struct {
	Class       string   `json:"class"`
	Support     int      `json:"support"`
	Predicted   int      `json:"predicted"`
	Precision   num      `json:"precision"`
	PrecisionCI Interval `json:"precision_ci"`
	Recall      num      `json:"recall"`
	RecallCI    Interval `json:"recall_ci"`
	F1          num      `json:"f1"`
	F1CI        Interval `json:"f1_ci"`
	AUC         num      `json:"auc"`
	AUCCI       Interval `json:"auc_ci"`
	ROC         *jsonROC `json:"roc,omitempty"`
}

type jsonBin struct {
	Lo         num `json:"lo"`
	Hi         num `json:"hi"`
	Count      int `json:"count"`
	Confidence num `json:"confidence"`
	Accuracy   num `json:"accuracy"`
}

type jsonROC struct {
	FPR       []num `json:"fpr"`
	TPR       []num `json:"tpr"`
	Threshold []num `json:"threshold"`
}

type jsonBoot struct {
	Resamples int    `json:"resamples"`
	Level     num    `json:"level"`
	Seed      uint64 `json:"seed"`
}

func nums(x []float64) []num {
	out := make([]num, len(x))
	for i, v := range x {
		out[i] = num(v)
	}
	return out
}

func floats(x []num) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = float64(v)
	}
	return out
}

func numPtr(v float64) *num { n := num(v); return &n }

func ivPtr(iv Interval) *Interval { return &iv }

// MarshalJSON writes the result as one JSON object; see the package
// documentation for its keys.
func (r *Result) MarshalJSON() ([]byte, error) {
	j := jsonResult{
		Task: r.Task, N: r.N, Classes: r.Classes,
		MacroF1: num(r.MacroF1), MacroF1CI: r.MacroF1CI,
		AUC: num(r.AUC), AUCCI: r.AUCCI, NLL: num(r.NLL),
		Confusion: r.Confusion,
		Bootstrap: jsonBoot{r.Resamples, num(r.Level), r.Seed},
	}
	if r.Task == MultiLabel {
		j.SubsetAccuracy, j.SubsetAccuracyCI = numPtr(r.SubsetAccuracy), ivPtr(r.SubsetAccuracyCI)
		j.HammingLoss, j.HammingLossCI = numPtr(r.HammingLoss), ivPtr(r.HammingLossCI)
		j.Threshold = numPtr(r.Threshold)
	} else {
		j.Accuracy, j.AccuracyCI = numPtr(r.Accuracy), ivPtr(r.AccuracyCI)
		j.BalancedAccuracy, j.BalancedAccuracyCI = numPtr(r.BalancedAccuracy), ivPtr(r.BalancedAccuracyCI)
		j.WeightedF1 = numPtr(r.WeightedF1)
		j.ECE, j.ECECI = numPtr(r.ECE), ivPtr(r.ECECI)
	}
	for _, c := range r.PerClass {
		jc := jsonClass{
			Class: c.Name, Support: c.Support, Predicted: c.Predicted,
			Precision: num(c.Precision), PrecisionCI: c.PrecisionCI,
			Recall: num(c.Recall), RecallCI: c.RecallCI,
			F1: num(c.F1), F1CI: c.F1CI, AUC: num(c.AUC), AUCCI: c.AUCCI,
		}
		if len(c.ROC.FPR) > 0 {
			jc.ROC = &jsonROC{nums(c.ROC.FPR), nums(c.ROC.TPR), nums(c.ROC.Threshold)}
		}
		j.PerClass = append(j.PerClass, jc)
	}
	for _, b := range r.Reliability {
		j.Reliability = append(j.Reliability, jsonBin{num(b.Lo), num(b.Hi), b.Count, num(b.Confidence), num(b.Accuracy)})
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads what MarshalJSON wrote. Measures absent for the task
// come back as NaN with NaN intervals; an infinite ROC threshold comes back
// as NaN.
func (r *Result) UnmarshalJSON(b []byte) error {
	var j jsonResult
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	nan := math.NaN()
	get := func(p *num) float64 {
		if p == nil {
			return nan
		}
		return float64(*p)
	}
	getIv := func(p *Interval) Interval {
		if p == nil {
			return noInterval
		}
		return *p
	}
	*r = Result{
		Task: j.Task, N: j.N, Classes: j.Classes,
		Accuracy: get(j.Accuracy), AccuracyCI: getIv(j.AccuracyCI),
		BalancedAccuracy: get(j.BalancedAccuracy), BalancedAccuracyCI: getIv(j.BalancedAccuracyCI),
		MacroF1: float64(j.MacroF1), MacroF1CI: j.MacroF1CI,
		WeightedF1: get(j.WeightedF1),
		AUC:        float64(j.AUC), AUCCI: j.AUCCI,
		ECE: get(j.ECE), ECECI: getIv(j.ECECI),
		NLL:            float64(j.NLL),
		SubsetAccuracy: get(j.SubsetAccuracy), SubsetAccuracyCI: getIv(j.SubsetAccuracyCI),
		HammingLoss: get(j.HammingLoss), HammingLossCI: getIv(j.HammingLossCI),
		Threshold: get(j.Threshold),
		Confusion: j.Confusion,
		Resamples: j.Bootstrap.Resamples, Level: float64(j.Bootstrap.Level), Seed: j.Bootstrap.Seed,
	}
	for _, c := range j.PerClass {
		cr := ClassResult{
			Name: c.Class, Support: c.Support, Predicted: c.Predicted,
			Precision: float64(c.Precision), PrecisionCI: c.PrecisionCI,
			Recall: float64(c.Recall), RecallCI: c.RecallCI,
			F1: float64(c.F1), F1CI: c.F1CI, AUC: float64(c.AUC), AUCCI: c.AUCCI,
		}
		if c.ROC != nil {
			cr.ROC = ROC{floats(c.ROC.FPR), floats(c.ROC.TPR), floats(c.ROC.Threshold)}
		}
		r.PerClass = append(r.PerClass, cr)
	}
	for _, b := range j.Reliability {
		r.Reliability = append(r.Reliability, Bin{float64(b.Lo), float64(b.Hi), b.Count, float64(b.Confidence), float64(b.Accuracy)})
	}
	return nil
}
