package resnet

import (
	"github.com/deepscope/deepscope/cuda"
	"github.com/deepscope/deepscope/cuda/netstate"
	"github.com/deepscope/deepscope/optim"
)

// SetOptimizer sets the update that Step applies and loads cpu's state (a
// fresh optimizer's is empty). cpu must be the optimizer of the CPU model
// the Net was made from, built with the same settings as o: Store writes
// the device's state back into it.
func (n *Net) SetOptimizer(o netstate.Optimizer, cpu optim.Optimizer) error {
	return n.st.SetOptimizer(o, cpu)
}

// Load copies the CPU model's parameters and running statistics (and the
// CPU optimizer's state, once set) to the device.
func (n *Net) Load() error { return n.st.Load() }

// Store copies the device's parameters, running statistics and optimizer
// state back into the CPU model and optimizer, so that the CPU's
// checkpoints, evaluation and histograms see the trained network.
func (n *Net) Store() error { return n.st.Store() }

// Device returns the device the network runs on.
func (n *Net) Device() *cuda.Device { return n.d }
