package main

import "github.com/spf13/cobra"

// dataCommands holds the constructors of the "deepscope data" subcommands
// (check, split, synth, get, ...), registered by their files' init functions.
var dataCommands []func() *cobra.Command

func init() { commands = append(commands, newDataCmd) }

func newDataCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "data",
		Short: "Inspect, split, generate and download image datasets",
	}
	for _, f := range dataCommands {
		c.AddCommand(f())
	}
	return c
}
