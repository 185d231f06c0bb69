package tensor

import "golang.org/x/sys/cpu"

// The instruction sets the kernels may use, read once at start-up. useAVX2
// is false in builds without assembly (the noasm tag or a non-amd64
// target), where every kernel is its pure-Go twin. There is no AVX-512
// kernel yet: on such CPUs the AVX2 kernels run.
var (
	hasAVX2FMA = cpu.X86.HasAVX2 && cpu.X86.HasFMA
	useAVX2    = asmBuild && hasAVX2FMA
)

// GemmKernel names the micro-kernel Gemm uses on this machine:
// "avx2-fma 6x16" or "go 6x16".
func GemmKernel() string {
	if useAVX2 {
		return "avx2-fma 6x16"
	}
	return "go 6x16"
}
