package tensor

import (
	"os"

	"golang.org/x/sys/cpu"
)

// The instruction sets the kernels may use, read once at start-up. useAVX2
// is false in builds without assembly (the noasm tag or a non-amd64
// target), where every kernel is its pure-Go twin.
//
// useWide turns on the AVX-512 12×32 GEMM kernels on CPUs that have
// AVX-512F. They were checked against their Go twins, and the GEMM tests
// passed with them, on an Intel Xeon with AVX-512 (one thread: 114-140
// GFLOP/s on ResNet shapes against 67-81 with the AVX2 kernel). Setting
// the environment variable DEEPSCOPE_AVX512=0 keeps the AVX2 kernel.
var (
	hasAVX2FMA = cpu.X86.HasAVX2 && cpu.X86.HasFMA
	hasAVX512  = cpu.X86.HasAVX512F && hasAVX2FMA
	useAVX2    = asmBuild && hasAVX2FMA
	useWide    = asmBuild && hasAVX512 && os.Getenv("DEEPSCOPE_AVX512") != "0"
)

// GemmKernel names the micro-kernel Gemm uses on this machine:
// "avx512 12x32", "avx2-fma 6x16" or "go 6x16".
func GemmKernel() string {
	switch {
	case useWide:
		return "avx512 12x32"
	case useAVX2:
		return "avx2-fma 6x16"
	}
	return "go 6x16"
}
