package cuda

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"sync"
	"unsafe"
)

// drv holds the driver API's entry points.
var drv struct {
	once                                           sync.Once
	err                                            error
	init, deviceGetCount, deviceGet, deviceGetName fn
	deviceGetAttribute, primaryCtxRetain           fn
	primaryCtxRelease, ctxSetCurrent               fn
	streamCreate, streamSynchronize, streamDestroy fn
	memAlloc, memFree, memGetInfo                  fn
	memHostAlloc, memFreeHost                      fn
	memcpyHtoD, memcpyDtoH, memcpyDtoD, memsetD32  fn
	moduleLoadData, moduleGetFunction, launch      fn
	getErrorString                                 fn
}

// initDriver opens libcuda.so.1 and calls cuInit once per process.
func initDriver() error {
	drv.once.Do(func() {
		l, err := loadDriver()
		if err != nil {
			drv.err = err
			return
		}
		if err := bind(l, map[string]*fn{
			"cuInit": &drv.init, "cuDeviceGetCount": &drv.deviceGetCount, "cuDeviceGet": &drv.deviceGet,
			"cuDeviceGetName": &drv.deviceGetName, "cuDeviceGetAttribute": &drv.deviceGetAttribute,
			"cuDevicePrimaryCtxRetain": &drv.primaryCtxRetain, "cuDevicePrimaryCtxRelease_v2": &drv.primaryCtxRelease,
			"cuCtxSetCurrent": &drv.ctxSetCurrent, "cuStreamCreate": &drv.streamCreate,
			"cuStreamSynchronize": &drv.streamSynchronize, "cuStreamDestroy_v2": &drv.streamDestroy,
			"cuMemHostAlloc": &drv.memHostAlloc, "cuMemFreeHost": &drv.memFreeHost,
			"cuMemAlloc_v2": &drv.memAlloc, "cuMemFree_v2": &drv.memFree, "cuMemGetInfo_v2": &drv.memGetInfo,
			"cuMemcpyHtoDAsync_v2": &drv.memcpyHtoD, "cuMemcpyDtoHAsync_v2": &drv.memcpyDtoH,
			"cuMemcpyDtoDAsync_v2": &drv.memcpyDtoD, "cuMemsetD32Async": &drv.memsetD32,
			"cuModuleLoadData": &drv.moduleLoadData, "cuModuleGetFunction": &drv.moduleGetFunction,
			"cuLaunchKernel": &drv.launch, "cuGetErrorString": &drv.getErrorString,
		}); err != nil {
			drv.err = err
			return
		}
		if r := drv.init.call(0); r != 0 {
			drv.err = fmt.Errorf("cuda: cuInit: %s", driverError(r))
		}
	})
	return drv.err
}

// driverError names a CUresult.
func driverError(r int32) string {
	var s uintptr
	if drv.getErrorString != 0 && drv.getErrorString.call(uintptr(r), ptr(&s)) == 0 && s != 0 {
		return fmt.Sprintf("%s (CUresult %d)", goString(s), r)
	}
	return fmt.Sprintf("CUresult %d", r)
}

// Count returns the number of CUDA devices, or an error when there is no
// driver.
func Count() (int, error) {
	if err := initDriver(); err != nil {
		return 0, err
	}
	var n int32
	if r := drv.deviceGetCount.call(ptr(&n)); r != 0 {
		return 0, fmt.Errorf("cuda: cuDeviceGetCount: %s", driverError(r))
	}
	return int(n), nil
}

// Device is one GPU: its primary context, a stream on which all its work
// is queued in order, cuBLAS and cuDNN handles bound to that stream, and
// the compiled kernels.
type Device struct {
	Ordinal      int
	Name         string // as cuDeviceGetName reports it
	Major, Minor int    // compute capability
	SMs          int    // multiprocessors
	// TF32 lets cuBLAS and cuDNN use TF32 tensor cores for float32
	// products (10-bit mantissas in, float32 sums), as PyTorch does for
	// convolutions by default. Off, products are full float32.
	TF32 bool

	dev    int32
	ctx    uintptr
	stream uintptr
	blas   uintptr
	dnn    uintptr
	kern   *kernels
	ws     Mem // cuDNN workspace, grown on demand
	err    error

	argv [32]uint64         // kernel arguments of the launch being made
	argp [32]unsafe.Pointer // pointers to them, as cuLaunchKernel takes
}

// Open opens device ordinal (0 for the first GPU): it loads the driver,
// cuBLAS, cuDNN and NVRTC, creates the stream and handles and compiles the
// kernels. TF32 starts on.
func Open(ordinal int) (*Device, error) {
	n, err := Count()
	if err != nil {
		return nil, err
	}
	if ordinal < 0 || ordinal >= n {
		return nil, fmt.Errorf("cuda: device %d asked for, %d present", ordinal, n)
	}
	l, err := loadLibs()
	if err != nil {
		return nil, err
	}
	d := &Device{Ordinal: ordinal, TF32: true}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if r := drv.deviceGet.call(ptr(&d.dev), uintptr(ordinal)); r != 0 {
		return nil, fmt.Errorf("cuda: cuDeviceGet(%d): %s", ordinal, driverError(r))
	}
	name := make([]byte, 256)
	if r := drv.deviceGetName.call(addr(name), uintptr(len(name)), uintptr(d.dev)); r == 0 {
		d.Name = goString(addr(name))
	}
	runtime.KeepAlive(name)
	for _, a := range []struct {
		v    *int
		attr uintptr
	}{{&d.Major, 75}, {&d.Minor, 76}, {&d.SMs, 16}} {
		var v int32
		if r := drv.deviceGetAttribute.call(ptr(&v), a.attr, uintptr(d.dev)); r != 0 {
			return nil, fmt.Errorf("cuda: cuDeviceGetAttribute: %s", driverError(r))
		}
		*a.v = int(v)
	}
	if r := drv.primaryCtxRetain.call(ptr(&d.ctx), uintptr(d.dev)); r != 0 {
		return nil, fmt.Errorf("cuda: %s: creating a context: %s", d.Name, driverError(r))
	}
	drv.ctxSetCurrent.call(d.ctx)
	if r := drv.streamCreate.call(ptr(&d.stream), 1); r != 0 { // CU_STREAM_NON_BLOCKING
		d.Close()
		return nil, fmt.Errorf("cuda: cuStreamCreate: %s", driverError(r))
	}
	for i := range d.argp {
		d.argp[i] = unsafe.Pointer(&d.argv[i])
	}
	if err := d.openBLAS(l.blas); err != nil {
		d.Close()
		return nil, err
	}
	if err := d.openDNN(l.dnn); err != nil {
		d.Close()
		return nil, err
	}
	if d.kern, err = compileKernels(d, l.rtc); err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

// enter makes the device's context current on a locked OS thread; every
// exported operation brackets its calls with enter and leave.
func (d *Device) enter() {
	runtime.LockOSThread()
	drv.ctxSetCurrent.call(d.ctx)
}

func (d *Device) leave() { runtime.UnlockOSThread() }

// fail keeps the first error.
func (d *Device) fail(err error) {
	if d.err == nil {
		d.err = err
	}
}

// check records a failed driver call.
func (d *Device) check(what string, r int32) {
	if r != 0 {
		d.fail(fmt.Errorf("cuda: %s: %s", what, driverError(r)))
	}
}

// Err returns the first error of the device's work so far.
func (d *Device) Err() error { return d.err }

// Sync waits for all queued work and returns the first error.
func (d *Device) Sync() error {
	d.enter()
	defer d.leave()
	if d.err == nil {
		d.check("cuStreamSynchronize", drv.streamSynchronize.call(d.stream))
	}
	return d.err
}

// MemInfo returns the free and total device memory in bytes.
func (d *Device) MemInfo() (free, total uint64) {
	d.enter()
	defer d.leave()
	drv.memGetInfo.call(ptr(&free), ptr(&total))
	return free, total
}

// Close releases the handles, the stream and the context; memory not
// freed is released with the context when the process ends.
func (d *Device) Close() error {
	d.enter()
	defer d.leave()
	if d.stream != 0 {
		drv.streamSynchronize.call(d.stream)
	}
	d.closeLibs()
	if d.ws.Ptr != 0 {
		d.Free(d.ws)
		d.ws = Mem{}
	}
	if d.stream != 0 {
		drv.streamDestroy.call(d.stream)
		d.stream = 0
	}
	if d.ctx != 0 {
		drv.primaryCtxRelease.call(uintptr(d.dev))
		d.ctx = 0
	}
	return d.err
}

// Mem is a range of N four-byte words (float32 or int32) in device memory.
type Mem struct {
	Ptr uintptr
	N   int
}

// Slice returns the words [lo, hi) of m.
func (m Mem) Slice(lo, hi int) Mem {
	if lo < 0 || hi > m.N || lo > hi {
		panic(fmt.Sprintf("cuda: Slice [%d:%d] of %d words", lo, hi, m.N))
	}
	return Mem{m.Ptr + uintptr(lo)*4, hi - lo}
}

// Alloc returns n zeroed words of device memory.
func (d *Device) Alloc(n int) (Mem, error) {
	if n <= 0 {
		return Mem{}, errors.New("cuda: Alloc of no memory")
	}
	d.enter()
	defer d.leave()
	var p uintptr
	if r := drv.memAlloc.call(ptr(&p), uintptr(n)*4); r != 0 {
		free, total := uint64(0), uint64(0)
		drv.memGetInfo.call(ptr(&free), ptr(&total))
		err := fmt.Errorf("cuda: allocating %d MiB on %s (%d of %d MiB free): %s", n*4>>20, d.Name, free>>20, total>>20, driverError(r))
		d.fail(err)
		return Mem{}, err
	}
	m := Mem{p, n}
	d.Zero(m)
	return m, nil
}

// HostAlloc returns n float32s of page-locked host memory, which the GPU
// reads directly: Upload from it is queued without a staging copy. Free it
// with FreeHost, not before the copies that read it are done.
func (d *Device) HostAlloc(n int) ([]float32, error) {
	if n <= 0 {
		return nil, errors.New("cuda: HostAlloc of no memory")
	}
	d.enter()
	defer d.leave()
	var p uintptr
	if r := drv.memHostAlloc.call(ptr(&p), uintptr(n)*4, 0); r != 0 {
		return nil, fmt.Errorf("cuda: allocating %d MiB of page-locked host memory: %s", n*4>>20, driverError(r))
	}
	return unsafe.Slice((*float32)(*(*unsafe.Pointer)(unsafe.Pointer(&p))), n), nil
}

// FreeHost releases memory from HostAlloc.
func (d *Device) FreeHost(b []float32) {
	if len(b) == 0 {
		return
	}
	d.enter()
	defer d.leave()
	drv.streamSynchronize.call(d.stream)
	drv.memFreeHost.call(uintptr(unsafe.Pointer(&b[0])))
}

// Free releases m.
func (d *Device) Free(m Mem) {
	if m.Ptr == 0 {
		return
	}
	d.enter()
	defer d.leave()
	drv.streamSynchronize.call(d.stream)
	d.check("cuMemFree", drv.memFree.call(m.Ptr))
}

// Zero sets m to zeros (queued).
func (d *Device) Zero(m Mem) {
	if m.N == 0 || d.err != nil {
		return
	}
	d.enter()
	defer d.leave()
	d.check("cuMemsetD32Async", drv.memsetD32.call(m.Ptr, 0, uintptr(m.N), d.stream))
}

// Upload copies src into dst (queued; src may be reused at once).
func (d *Device) Upload(dst Mem, src []float32) {
	if len(src) > dst.N {
		panic(fmt.Sprintf("cuda: Upload of %d words into %d", len(src), dst.N))
	}
	if len(src) == 0 || d.err != nil {
		return
	}
	d.enter()
	defer d.leave()
	d.check("cuMemcpyHtoDAsync", drv.memcpyHtoD.call(dst.Ptr, addr(src), uintptr(len(src))*4, d.stream))
	runtime.KeepAlive(src)
}

// UploadInt32 copies src into dst, as Upload.
func (d *Device) UploadInt32(dst Mem, src []int32) {
	d.Upload(dst, unsafe.Slice((*float32)(unsafe.Pointer(unsafe.SliceData(src))), len(src)))
}

// Download waits for the queued work and copies src into dst.
func (d *Device) Download(dst []float32, src Mem) error {
	if len(dst) > src.N {
		panic(fmt.Sprintf("cuda: Download of %d words from %d", len(dst), src.N))
	}
	if d.err != nil || len(dst) == 0 {
		return d.err
	}
	d.enter()
	defer d.leave()
	d.check("cuMemcpyDtoHAsync", drv.memcpyDtoH.call(addr(dst), src.Ptr, uintptr(len(dst))*4, d.stream))
	d.check("cuStreamSynchronize", drv.streamSynchronize.call(d.stream))
	runtime.KeepAlive(dst)
	return d.err
}

// Copy copies src into dst on the device (queued).
func (d *Device) Copy(dst, src Mem) {
	if src.N > dst.N {
		panic(fmt.Sprintf("cuda: Copy of %d words into %d", src.N, dst.N))
	}
	if d.err != nil || src.N == 0 {
		return
	}
	d.enter()
	defer d.leave()
	d.check("cuMemcpyDtoDAsync", drv.memcpyDtoD.call(dst.Ptr, src.Ptr, uintptr(src.N)*4, d.stream))
}

// workspace returns at least bytes of scratch memory for cuDNN.
func (d *Device) workspace(bytes int) Mem {
	if bytes <= d.ws.N*4 {
		return d.ws
	}
	if d.ws.Ptr != 0 {
		d.Free(d.ws)
		d.ws = Mem{}
	}
	m, err := d.Alloc((bytes + 3) / 4)
	if err != nil {
		return Mem{}
	}
	d.ws = m
	return m
}

// Kernel arguments, each stored in one 8-byte slot.

// P passes a device pointer.
func P(m Mem) uint64 { return uint64(m.Ptr) }

// I passes an int as a C int.
func I(v int) uint64 { return uint64(uint32(int32(v))) }

// L passes an int as a C long long.
func L(v int) uint64 { return uint64(int64(v)) }

// F passes a float.
func F(v float32) uint64 { return uint64(math.Float32bits(v)) }

// D passes a double.
func D(v float64) uint64 { return math.Float64bits(v) }

// launch queues kernel k on grid × block threads with the given arguments.
func (d *Device) launch(k fn, grid, block [3]int, shared int, args ...uint64) {
	if d.err != nil {
		return
	}
	if len(args) > len(d.argv) {
		panic("cuda: too many kernel arguments")
	}
	copy(d.argv[:], args)
	d.enter()
	defer d.leave()
	r := drv.launch.call(uintptr(k), uintptr(grid[0]), uintptr(grid[1]), uintptr(grid[2]),
		uintptr(block[0]), uintptr(block[1]), uintptr(block[2]), uintptr(shared), d.stream,
		uintptr(unsafe.Pointer(&d.argp[0])), 0)
	d.check("cuLaunchKernel", r)
}
