// Package cuda runs deepscope's kernels on an NVIDIA GPU without cgo and
// without the CUDA toolkit at build time.
//
// The driver (libcuda.so.1), cuBLAS, cuDNN and NVRTC are opened at run time
// with purego (dlopen from pure Go), searched in $DEEPSCOPE_CUDA_LIBS,
// $LD_LIBRARY_PATH, the dynamic loader's defaults and the NVIDIA wheels that
// pip installs beside PyTorch (site-packages/nvidia/*/lib). When a library is
// missing, Open returns an error that names it and the places searched;
// nothing panics and the CPU path is untouched.
//
// What runs where, and why it is written by hand here:
//   - matrix products: cuBLAS (Device.Gemm), TF32 tensor cores when
//     Device.TF32 is set, as PyTorch's default for convolutions;
//   - convolutions: cuDNN's convolution API on channels-last (NHWC) maps,
//     with the fastest algorithm measured once per shape (Conv);
//   - batch norm, pooling, dropout, channel concatenation, the loss and the
//     optimizers: small CUDA C kernels (kernels.go) compiled by NVRTC for the
//     card when a Device opens.
//     They are a few lines each and fuse what the network needs (batch norm
//     with its ReLU and the residual addition), which the libraries do not
//     offer in float32.
//
// The networks run on these live in cuda/resnet (the ResNet family and
// CellNet, for classification) and cuda/unet (the U-Net of package
// segment); cuda/netstate holds what they share: the model's parameters
// and optimizer state on the device and the copies back to the CPU.
//
// A Device is one GPU with its own context, stream and library handles;
// nothing is global but the loaded libraries, so several devices can later
// run data-parallel replicas. A Device is used by one goroutine at a time.
// Errors of the asynchronous work are sticky: the first failure is kept,
// later calls do nothing, and Err or Sync report it.
package cuda
