package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/deepscope/deepscope/synth"
)

func init() { dataCommands = append(dataCommands, newDataSynthCmd) }

func newDataSynthCmd() *cobra.Command {
	var (
		out        string
		cfg        synth.Config
		classNames string
	)
	c := &cobra.Command{
		Use:   "synth --out DIR",
		Short: "Generate a seeded data set of blood-smear-like cell images",
		Long: `Generate microscopy-like images of peripheral blood smears: one white cell
per image (or a platelet cluster) among red cells, in the eight classes of the
PBC data set. Classes differ in nucleus shape and lobes, cell size, granules
and cytoplasm colour; stain, light, focus and noise vary by image and by
acquisition site. Writes DIR/<class>/<n>.png and DIR/split.csv with the
columns path,label,split,site (train/val/test 70/10/20 per class).
The same flags give the same files.`,
		Example: `  deepscope data synth --out cells --n 2000 --size 64 --seed 1 --sites 2`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return fmt.Errorf("data synth: --out DIR is required")
			}
			if classNames != "" {
				cfg.Classes = nil
				for _, n := range strings.Split(classNames, ",") {
					cl, err := synth.ParseClass(n)
					if err != nil {
						return err
					}
					cfg.Classes = append(cfg.Classes, cl)
				}
			}
			start := time.Now()
			manifest, err := synth.Generate(out, cfg)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %d images to %s in %.1fs; manifest %s\n",
				cfg.N, out, time.Since(start).Seconds(), manifest)
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&out, "out", "", "output directory (new, empty, or an earlier synth output)")
	f.IntVar(&cfg.N, "n", 2000, "number of images, spread evenly over the classes")
	f.IntVar(&cfg.Size, "size", 64, "image width and height in pixels")
	f.Uint64Var(&cfg.Seed, "seed", 1, "random seed")
	f.IntVar(&cfg.Sites, "sites", 2, "acquisition sites, each with its own stain and optics")
	f.Float64Var(&cfg.Difficulty, "difficulty", 0.5, "from near 0 (typical cells, even staining) to 1 (atypical cells, varied staining)")
	f.StringVar(&classNames, "classes", "", "comma-separated subset of basophil,eosinophil,erythroblast,ig,lymphocyte,monocyte,neutrophil,platelet (default all)")
	return c
}
