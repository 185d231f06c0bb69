package data_test

import (
	"fmt"
	"image"
	"image/color"
	"image/png"
	"log"
	"os"
	"path/filepath"

	"github.com/deepscope/deepscope/data"
)

// makeCells writes a tiny ImageFolder: n grey 40×40 PNGs per class.
func makeCells(dir string, n int) {
	for c, class := range []string{"lymphocyte", "neutrophil"} {
		os.MkdirAll(filepath.Join(dir, class), 0o755)
		for i := range n {
			img := image.NewGray(image.Rect(0, 0, 40, 40))
			for y := range 40 {
				for x := range 40 {
					// bands whose width and slant differ by class and image
					if (x*(c+1)+y*(i+2))/(6+i)%2 == 0 {
						img.Set(x, y, color.Gray{200})
					}
				}
			}
			f, _ := os.Create(filepath.Join(dir, class, fmt.Sprintf("%d.png", i)))
			png.Encode(f, img)
			f.Close()
		}
	}
}

// Open a folder of images, split it, and read it in batches at 28 px from
// the centre 200/360 of each field (BloodMNIST's protocol).
func Example() {
	dir, _ := os.MkdirTemp("", "cells")
	defer os.RemoveAll(dir)
	makeCells(dir, 10)

	ds, err := data.Open(dir)
	if err != nil {
		log.Fatal(err)
	}
	ds, err = data.Split(ds, data.SplitConfig{Val: 0.2, Test: 0.2, Seed: 1})
	if err != nil {
		log.Fatal(err)
	}
	train := ds.Subset(data.Train)
	fmt.Println(ds.Classes, "train", train.Len(), "val", ds.Subset(data.Val).Len(), "test", ds.Subset(data.Test).Len())

	loader, err := data.NewLoader(train, data.LoaderConfig{
		BatchSize:  5,
		Shuffle:    true,
		Seed:       1,
		Workers:    2,
		Cache:      true,
		Preprocess: data.Preprocess{Size: 28, Crop: 200.0 / 360, Channels: 3},
		Normalize:  data.Normalize{Mean: []float32{0.5, 0.5, 0.5}, Std: []float32{0.25, 0.25, 0.25}},
	})
	if err != nil {
		log.Fatal(err)
	}
	for epoch := range 2 {
		for b, err := range loader.Epoch(epoch, 0) {
			if err != nil {
				log.Fatal(err)
			}
			fmt.Println("epoch", epoch, "batch", b.Index, b.X.Shape, len(b.Labels))
		}
	}
	fmt.Println("cache bytes:", loader.CacheBytes())
	// Output:
	// [lymphocyte neutrophil] train 12 val 4 test 4
	// epoch 0 batch 0 [5 28 28 3] 5
	// epoch 0 batch 1 [5 28 28 3] 5
	// epoch 0 batch 2 [2 28 28 3] 2
	// epoch 1 batch 0 [5 28 28 3] 5
	// epoch 1 batch 1 [5 28 28 3] 5
	// epoch 1 batch 2 [2 28 28 3] 2
	// cache bytes: 28224
}

// Check a dataset and print its problems.
func ExampleCheck() {
	dir, _ := os.MkdirTemp("", "cells")
	defer os.RemoveAll(dir)
	makeCells(dir, 3)
	b, _ := os.ReadFile(filepath.Join(dir, "neutrophil", "0.png"))
	os.WriteFile(filepath.Join(dir, "lymphocyte", "copy.png"), b, 0o644)     // a duplicate under another label
	os.WriteFile(filepath.Join(dir, "lymphocyte", "cut.png"), b[:40], 0o644) // truncated

	ds, _ := data.Open(dir)
	r, err := data.Check(ds, data.CheckConfig{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(r.Clean(), r.ProblemSummary())
	// Output:
	// false [1 unreadable image 1 group of exact duplicates]
}
