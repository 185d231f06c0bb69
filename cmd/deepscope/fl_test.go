package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deepscope/deepscope/synth"
)

func TestFLCommands(t *testing.T) {
	tmp := t.TempDir()
	cells := filepath.Join(tmp, "cells")
	if _, err := synth.Generate(cells, synth.Config{N: 60, Size: 16, Seed: 2, Difficulty: 0.05,
		Classes: []synth.Class{synth.Neutrophil, synth.Lymphocyte, synth.Platelet}}); err != nil {
		t.Fatal(err)
	}
	certs := filepath.Join(tmp, "certs")
	tests := []struct {
		args []string
		want string // in the output, or in the error when fail
		fail bool
	}{
		{[]string{"fl", "certs", "--out", certs, "--clients", "2"}, "2 client certificates", false},
		{[]string{"--threads", "1", "fl", "simulate", "--data", cells, "--size", "16", "--clients", "2", "--rounds", "1",
			"--batch", "8", "--augment", "none", "--secure", "--out", filepath.Join(tmp, "run")}, "test: accuracy", false},
		{[]string{"fl", "partition", "--data", cells, "--clients", "2", "--partition", "dirichlet:1", "--out", filepath.Join(tmp, "sites")}, "client2: ", false},
		{[]string{"fl", "simulate", "--clients", "2"}, "--data PATH is required", true},
		{[]string{"fl", "simulate", "--data", cells, "--partition", "shards"}, `partition "shards"`, true},
		{[]string{"fl", "simulate", "--data", cells, "--aggregate", "median", "--secure"}, "needs each one", true},
		{[]string{"fl", "server", "--out", filepath.Join(tmp, "srv")}, "--tls-cert, --tls-key and --client-ca are required", true},
		{[]string{"fl", "client", "--server", "https://127.0.0.1:1", "--data", cells}, "--tls-cert, --tls-key and --ca are required", true},
		{[]string{"fl", "client", "--server", "http://127.0.0.1:1", "--data", cells, "--tls-cert", filepath.Join(certs, "client1.pem"),
			"--tls-key", filepath.Join(certs, "client1.key"), "--ca", filepath.Join(certs, "ca.pem")}, "want https://host:port", true},
	}
	for _, tc := range tests {
		root := newRoot()
		var out bytes.Buffer
		root.SetOut(&out)
		root.SetErr(&out)
		root.SetArgs(tc.args)
		err := root.Execute()
		switch {
		case tc.fail && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%v: error %v, want one containing %q", tc.args, err, tc.want)
		case !tc.fail && (err != nil || !strings.Contains(out.String(), tc.want)):
			t.Errorf("%v: error %v, output %q, want %q", tc.args, err, out.String(), tc.want)
		}
	}
	for _, f := range []string{"ca.pem", "server.pem", "server.key", "client2.pem", "client2.key"} {
		if _, err := os.Stat(filepath.Join(certs, f)); err != nil {
			t.Error(err)
		}
	}
	if _, err := os.Stat(filepath.Join(tmp, "sites", "client1", "split.csv")); err != nil {
		t.Errorf("partition wrote no site manifest: %v", err)
	}
	if _, err := os.Stat(filepath.Join(tmp, "run", "best.safetensors")); err != nil {
		t.Errorf("simulate --out wrote no model: %v", err)
	}
}
