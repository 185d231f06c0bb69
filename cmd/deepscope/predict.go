package main

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/deepscope/deepscope/data"
	"github.com/deepscope/deepscope/tensor"
	"github.com/deepscope/deepscope/train"
)

func init() { commands = append(commands, newPredictCmd) }

// imageExts are the file extensions predict picks up inside directories.
var imageExts = map[string]bool{".png": true, ".jpg": true, ".jpeg": true, ".tif": true, ".tiff": true, ".bmp": true}

func newPredictCmd() *cobra.Command {
	var (
		dir         string
		asJSON, tta bool
	)
	c := &cobra.Command{
		Use:   "predict --model RUN [--json] FILE|DIR...",
		Short: "Classify images with a trained run: one line per image",
		Long: `predict prints, for each image (directories are searched for PNG, JPEG, TIFF and BMP
files), its path, the predicted class and its probability; with --json one object per
line: {"path":…,"label":…,"probs":{"class":p,…}}. An image that cannot be read is
reported on stderr with the reason and the command exits with status 1 at the end.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := train.Load(dir)
			if err != nil {
				return err
			}
			paths, err := expandImages(args)
			if err != nil {
				return err
			}
			useTTA := m.Info.Config.TTA
			if cmd.Flags().Changed("tta") {
				useTTA = tta
			}
			failed := 0
			enc := json.NewEncoder(cmd.OutOrStdout())
			const chunk = 64
			for lo := 0; lo < len(paths); lo += chunk {
				var imgs []*tensor.Tensor
				var ok []string
				for _, p := range paths[lo:min(lo+chunk, len(paths))] {
					img, err := data.Decode(p)
					if err != nil {
						fmt.Fprintln(cmd.ErrOrStderr(), err)
						failed++
						continue
					}
					imgs, ok = append(imgs, img), append(ok, p)
				}
				for i, probs := range m.Predict(imgs, useTTA) {
					best := 0
					for j := range probs {
						if probs[j] > probs[best] {
							best = j
						}
					}
					label := m.Info.Classes[best]
					if !asJSON {
						fmt.Fprintf(cmd.OutOrStdout(), "%s\t%s\t%.4f\n", ok[i], label, probs[best])
						continue
					}
					pm := make(map[string]float64, len(probs))
					for j, p := range probs {
						pm[m.Info.Classes[j]] = p
					}
					if err := enc.Encode(struct {
						Path  string             `json:"path"`
						Label string             `json:"label"`
						Probs map[string]float64 `json:"probs"`
					}{ok[i], label, pm}); err != nil {
						return err
					}
				}
			}
			if failed > 0 {
				return fmt.Errorf("predict: %d of %d images could not be read", failed, len(paths))
			}
			return nil
		},
	}
	c.Flags().StringVar(&dir, "model", "", "run directory (required)")
	c.Flags().BoolVar(&asJSON, "json", false, "one JSON object per line")
	c.Flags().BoolVar(&tta, "tta", false, "test-time augmentation (default: as the run was configured)")
	c.MarkFlagRequired("model")
	return c
}

// expandImages lists the files named and the images inside directories
// named, directories in sorted order.
func expandImages(args []string) ([]string, error) {
	var out []string
	for _, a := range args {
		st, err := os.Stat(a)
		if err != nil {
			return nil, fmt.Errorf("predict: %w", err)
		}
		if !st.IsDir() {
			out = append(out, a)
			continue
		}
		var found []string
		err = filepath.WalkDir(a, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && imageExts[strings.ToLower(filepath.Ext(p))] {
				found = append(found, p)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("predict: %w", err)
		}
		sort.Strings(found)
		out = append(out, found...)
	}
	return out, nil
}
