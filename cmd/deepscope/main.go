// Command deepscope trains, evaluates, explains and serves deep-learning
// models for microscopy images. Run "deepscope help" for the commands.
package main

import (
	"fmt"
	"os"
	"runtime/pprof"

	"github.com/spf13/cobra"

	"github.com/deepscope/deepscope/tensor"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

// commands holds the constructors of the top-level subcommands; each
// command's file registers itself in an init function, so commands can be
// added without touching this file.
var commands []func() *cobra.Command

func main() {
	if err := newRoot().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "deepscope:", err)
		os.Exit(1)
	}
}

func newRoot() *cobra.Command {
	var (
		threads    int
		cpuProfile string
		stopProf   func()
	)
	root := &cobra.Command{
		Use:           "deepscope",
		Short:         "Deep learning for microscopy images: prepare, train, evaluate, explain, serve",
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			tensor.SetThreads(threads)
			if cpuProfile == "" {
				return nil
			}
			f, err := os.Create(cpuProfile)
			if err != nil {
				return err
			}
			if err := pprof.StartCPUProfile(f); err != nil {
				return err
			}
			stopProf = func() { pprof.StopCPUProfile(); f.Close() }
			return nil
		},
		PersistentPostRun: func(cmd *cobra.Command, args []string) {
			if stopProf != nil {
				stopProf()
			}
		},
	}
	root.PersistentFlags().IntVar(&threads, "threads", 0, "threads for the compute kernels (0: all cores)")
	root.PersistentFlags().StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile (go tool pprof) to this file")
	for _, c := range commands {
		root.AddCommand(c())
	}
	return root
}
