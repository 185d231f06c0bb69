package tensor

// Internals exposed to the external tests.

// GemmRef is the plain triple loop Gemm is checked against.
var GemmRef = gemmRef

// KernelGo and KernelAVX2 are the 6×16 micro-kernel's twins.
var (
	KernelGo   = sgemmKernelGo
	KernelAVX2 = sgemmKernelAVX2
)

// Vector kernel twins.
var (
	AxpyGo, AxpyAVX2   = axpyGo, axpyAVX2
	DotGo, DotAVX2     = dotGo, dotAVX2
	ScaleGo, ScaleAVX2 = scaleGo, scaleAVX2
	AddGo, AddAVX2     = addGo, addAVX2
)

// MR and NR are the micro-kernel's tile shape.
const MR, NR = mr, nr

// HasAVX2 reports whether the assembly kernels can run here.
func HasAVX2() bool { return asmBuild && hasAVX2FMA }

// UseAVX2 switches Gemm and the vector kernels between assembly and Go,
// returning a function that restores the previous choice.
func UseAVX2(on bool) (restore func()) {
	old := useAVX2
	useAVX2 = on && asmBuild && hasAVX2FMA
	return func() { useAVX2 = old }
}

// SetBlocking sets the cache block sizes (0 keeps one), returning a function
// that restores the previous ones.
func SetBlocking(kc, mc, nc int) (restore func()) {
	okc, omc, onc := blockKC, blockMC, blockNC
	if kc > 0 {
		blockKC = kc
	}
	if mc > 0 {
		blockMC = mc
	}
	if nc > 0 {
		blockNC = nc
	}
	return func() { blockKC, blockMC, blockNC = okc, omc, onc }
}

// Split names how Gemm cuts an m×n×k problem over t threads: "none", "m",
// "n" or "k".
func Split(m, n, k, t int) string {
	return [...]string{"none", "m", "n", "k"}[chooseSplit(m, n, k, t)]
}
