package tensor

import "golang.org/x/sys/cpu"

// The instruction sets the kernels may use, read once at start-up. useAVX2 is
// false in builds without assembly (the noasm tag or a non-amd64 target),
// where every kernel is its pure-Go twin.
var (
	hasAVX2FMA = cpu.X86.HasAVX2 && cpu.X86.HasFMA
	// hasAVX512 reports an AVX-512F CPU with the OS saving zmm state; no
	// kernel uses it yet (see PeakGFLOPS and Gemm docs).
	hasAVX512 = cpu.X86.HasAVX512F
	useAVX2   = asmBuild && hasAVX2FMA
)

// Kernel reports which GEMM micro-kernel Gemm uses on this machine:
// "avx2-fma 6x16" or "go 6x16".
func Kernel() string {
	if useAVX2 {
		return "avx2-fma 6x16"
	}
	return "go 6x16"
}
