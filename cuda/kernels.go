package cuda

import (
	"fmt"
	"runtime"
	"strings"
)

// kernels are the functions of the compiled kernelSource.
type kernels struct {
	module                                               uintptr
	bnStats, bnFinalize, bnApply, bnBwdReduce, bnBwdCoef fn
	bnBwdDx, gapFwd, gapBwd, dropoutFwd, mul, addBias    fn
	colSum, crossEntropy, adam, sgd, sumSquares, scaleK  fn
	addInto, concat, split                               fn
}

// nvrtc holds NVRTC's entry points.
var nvrtc struct {
	create, compile, logSize, log, cubinSize, cubin, ptxSize, ptx, destroy, version fn
}

// compileKernels compiles kernelSource for d's compute capability and loads
// it into d's context.
func compileKernels(d *Device, rtc *library) (*kernels, error) {
	if err := bind(rtc, map[string]*fn{
		"nvrtcCreateProgram": &nvrtc.create, "nvrtcCompileProgram": &nvrtc.compile,
		"nvrtcGetProgramLogSize": &nvrtc.logSize, "nvrtcGetProgramLog": &nvrtc.log,
		"nvrtcGetCUBINSize": &nvrtc.cubinSize, "nvrtcGetCUBIN": &nvrtc.cubin,
		"nvrtcGetPTXSize": &nvrtc.ptxSize, "nvrtcGetPTX": &nvrtc.ptx,
		"nvrtcDestroyProgram": &nvrtc.destroy, "nvrtcVersion": &nvrtc.version,
	}); err != nil {
		return nil, err
	}
	// Machine code for the card; PTX for a virtual architecture if this
	// NVRTC does not know the card (the driver then compiles it).
	image, err := nvrtcCompile(kernelSource, fmt.Sprintf("sm_%d%d", d.Major, d.Minor), true)
	if err != nil {
		var err2 error
		if image, err2 = nvrtcCompile(kernelSource, fmt.Sprintf("compute_%d%d", d.Major, d.Minor), false); err2 != nil {
			return nil, err
		}
	}
	d.enter()
	defer d.leave()
	k := &kernels{}
	if r := drv.moduleLoadData.call(ptr(&k.module), addr(image)); r != 0 {
		return nil, fmt.Errorf("cuda: loading the compiled kernels: %s", driverError(r))
	}
	runtime.KeepAlive(image)
	for name, f := range map[string]*fn{
		"bn_stats": &k.bnStats, "bn_finalize": &k.bnFinalize, "bn_apply": &k.bnApply,
		"bn_bwd_reduce": &k.bnBwdReduce, "bn_bwd_coef": &k.bnBwdCoef, "bn_bwd_dx": &k.bnBwdDx,
		"gap_fwd": &k.gapFwd, "gap_bwd": &k.gapBwd, "dropout_fwd": &k.dropoutFwd, "mul": &k.mul,
		"add_bias": &k.addBias, "col_sum": &k.colSum, "cross_entropy": &k.crossEntropy,
		"adam": &k.adam, "sgd": &k.sgd, "sum_squares": &k.sumSquares, "scale": &k.scaleK,
		"add_into": &k.addInto, "concat_channels": &k.concat, "split_channels": &k.split,
	} {
		cname := cstr(name)
		var h uintptr
		if r := drv.moduleGetFunction.call(ptr(&h), k.module, addr(cname)); r != 0 {
			return nil, fmt.Errorf("cuda: kernel %s: %s", name, driverError(r))
		}
		runtime.KeepAlive(cname)
		*f = fn(h)
	}
	return k, nil
}

// nvrtcCompile compiles src for arch and returns a CUBIN (cubin) or PTX.
func nvrtcCompile(src, arch string, cubin bool) ([]byte, error) {
	csrc, cname := cstr(src), cstr("deepscope_kernels.cu")
	var prog uintptr
	if r := nvrtc.create.call(ptr(&prog), addr(csrc), addr(cname), 0, 0, 0); r != 0 {
		return nil, fmt.Errorf("cuda: nvrtcCreateProgram: status %d", r)
	}
	defer nvrtc.destroy.call(ptr(&prog))
	opts := [][]byte{cstr("--gpu-architecture=" + arch), cstr("--fmad=false"), cstr("-default-device"), cstr("--std=c++17")}
	optp := make([]uintptr, len(opts))
	for i, o := range opts {
		optp[i] = addr(o)
	}
	r := nvrtc.compile.call(prog, uintptr(len(optp)), addr(optp))
	runtime.KeepAlive(opts)
	runtime.KeepAlive(csrc)
	runtime.KeepAlive(cname)
	if r != 0 {
		var n uintptr
		nvrtc.logSize.call(prog, ptr(&n))
		log := make([]byte, n+1)
		nvrtc.log.call(prog, addr(log))
		return nil, fmt.Errorf("cuda: compiling the kernels for %s (NVRTC status %d): %s", arch, r, strings.TrimSpace(goString(addr(log))))
	}
	sizeFn, getFn := nvrtc.ptxSize, nvrtc.ptx
	if cubin {
		sizeFn, getFn = nvrtc.cubinSize, nvrtc.cubin
	}
	var n uintptr
	if r := sizeFn.call(prog, ptr(&n)); r != 0 || n == 0 {
		return nil, fmt.Errorf("cuda: NVRTC gave no code for %s (status %d)", arch, r)
	}
	out := make([]byte, n)
	if r := getFn.call(prog, addr(out)); r != 0 {
		return nil, fmt.Errorf("cuda: NVRTC: reading the code for %s: status %d", arch, r)
	}
	return out, nil
}

// NVRTCVersion returns NVRTC's version, (0, 0) before a Device is open.
func NVRTCVersion() (major, minor int) {
	if nvrtc.version == 0 {
		return 0, 0
	}
	var a, b int32
	nvrtc.version.call(ptr(&a), ptr(&b))
	return int(a), int(b)
}

// grid1 returns the grid of 256-thread blocks for a grid-stride loop over n
// elements: enough blocks to fill the card, no more than the work needs.
func (d *Device) grid1(n int) [3]int {
	b := (n + 255) / 256
	b = max(1, min(b, d.SMs*16))
	return [3]int{b, 1, 1}
}

var block256 = [3]int{256, 1, 1}

// channelGrid returns the grid of (32, 8) blocks for a per-channel
// reduction over rows of C channels.
func (d *Device) channelGrid(rows, C int) [3]int {
	gx := (C + 31) / 32
	gy := max(1, min((rows+8*64-1)/(8*64), d.SMs*8/gx))
	return [3]int{gx, gy, 1}
}

var block32x8 = [3]int{32, 8, 1}
