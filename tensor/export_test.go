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

// SetBlocking sets the cache block sizes of the packed path (kc, mc, nc)
// and of the in-place path (kci, nci); 0 keeps a size. It returns a
// function that restores the previous ones.
func SetBlocking(kc, mc, nc, kci, nci int) (restore func()) {
	old := [5]int{blockKC, blockMC, blockNC, blockKCInPlace, blockNCInPlace}
	for i, p := range []*int{&blockKC, &blockMC, &blockNC, &blockKCInPlace, &blockNCInPlace} {
		if v := [5]int{kc, mc, nc, kci, nci}[i]; v > 0 {
			*p = v
		}
	}
	return func() {
		blockKC, blockMC, blockNC, blockKCInPlace, blockNCInPlace = old[0], old[1], old[2], old[3], old[4]
	}
}

// Split names how Gemm cuts an m×n×k problem over t threads: "none", "m",
// "n" or "k".
func Split(m, n, k, t int) string {
	return [...]string{"none", "m", "n", "k"}[chooseSplit(m, n, k, t)]
}

// KernelStridedGo and KernelStridedAVX2 are the in-place micro-kernel's twins.
var (
	KernelStridedGo   = sgemmKernelStridedGo
	KernelStridedAVX2 = sgemmKernelStridedAVX2
)

// Packing twins.
var (
	PackATransGo, PackATransAVX2 = packATransGo, packATransAVX2
	PackB16Go, PackB16AVX2       = packB16Go, packB16AVX2
	PackBTransGo, PackBTransAVX2 = packBTransGo, packBTransAVX2
)

// ForceSplit makes Gemm cut every parallel problem along "m", "n" or "k"
// ("" restores the automatic choice).
func ForceSplit(dim string) {
	forceSplit = map[string]gemmSplit{"": splitNone, "m": splitM, "n": splitN, "k": splitK}[dim]
}

// SetInPlaceTrans sets the widest C for which a transposed A is read in
// place and the prefetch distance in k steps; it returns a restore function.
func SetInPlaceTrans(maxN, steps int) (restore func()) {
	on, os := inPlaceTransMaxN, prefetchSteps
	inPlaceTransMaxN, prefetchSteps = maxN, steps
	return func() { inPlaceTransMaxN, prefetchSteps = on, os }
}

// HasAVX512 reports whether the AVX-512 kernels can run here.
func HasAVX512() bool { return asmBuild && hasAVX512 }

// UseWide switches Gemm's 12×32 path on or off, returning a restore
// function. Where the AVX-512 kernels cannot run, the path runs their Go
// twins, so the driver code is tested on any machine.
func UseWide(on bool) (restore func()) {
	old, ok, os := useWide, wideKernel, wideStrided
	useWide = on
	if !asmBuild || !hasAVX512 {
		wideKernel, wideStrided = sgemmKernel12x32Go, sgemmKernelStrided12x32Go
	}
	return func() { useWide, wideKernel, wideStrided = old, ok, os }
}

// Wide kernel twins.
var (
	Kernel12x32Go, Kernel12x32AVX512               = sgemmKernel12x32Go, sgemmKernel12x32AVX512
	KernelStrided12x32Go, KernelStrided12x32AVX512 = sgemmKernelStrided12x32Go, sgemmKernelStrided12x32AVX512
)
