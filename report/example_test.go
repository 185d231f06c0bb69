package report_test

import (
	"log"
	"time"

	"github.com/deepscope/deepscope/metrics"
	"github.com/deepscope/deepscope/report"
)

// A report needs only test results; everything else adds sections.
func ExampleWriteFile() {
	labels := []int{0, 1, 1, 0}
	probs := [][]float64{{0.9, 0.1}, {0.3, 0.7}, {0.6, 0.4}, {0.8, 0.2}}
	res, err := metrics.Evaluate(labels, probs, []string{"benign", "malignant"}, metrics.Options{})
	if err != nil {
		log.Fatal(err)
	}
	page := &report.Page{
		Title:   "Lesion classifier",
		Dataset: report.Dataset{Name: "BreastMNIST", Split: "test"},
		Run:     report.Run{Model: "ResNet-18", InputSize: 28, Epochs: 40, WallTime: 9 * time.Minute},
		Test:    res,
		Epochs:  []report.Epoch{{Epoch: 1, TrainLoss: 0.61, ValLoss: 0.58, ValAccuracy: 0.74}},
	}
	if err := report.WriteFile("report.html", page); err != nil {
		log.Fatal(err)
	}
}
