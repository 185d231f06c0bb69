package cuda

import (
	"fmt"
)

// cudnn holds cuDNN's entry points (the legacy convolution API).
var cudnn struct {
	create, destroy, setStream, version, errorString                         fn
	createTensor, setTensor4d, createFilter, setFilter4d                     fn
	createConv, setConv2d, setConvMath                                       fn
	findFwd, findBwdData, findBwdFilter                                      fn
	convFwd, convBwdData, convBwdFilter                                      fn
	destroyTensor, destroyFilter, destroyConv                                fn
	createPool, setPool2d, poolFwd, poolBwd, destroyPool                     fn
	getFwdWorkspace, getBwdDataWorkspace, getBwdFilterWorkspace, getFwdAlgo7 fn
}

const (
	cudnnNHWC          = 1
	cudnnFloat         = 0
	cudnnCrossCorr     = 1
	cudnnTensorOpMath  = 1
	cudnnFMAMath       = 3
	cudnnPoolingMax    = 0
	cudnnNotPropagate  = 0
	cudnnPerfWords     = 12 // cudnnConvolution*AlgoPerf_t is 48 bytes
	cudnnAlgoCandidate = 8
)

func (d *Device) openDNN(l *library) error {
	if err := bind(l, map[string]*fn{
		"cudnnCreate": &cudnn.create, "cudnnDestroy": &cudnn.destroy, "cudnnSetStream": &cudnn.setStream,
		"cudnnGetVersion": &cudnn.version, "cudnnGetErrorString": &cudnn.errorString,
		"cudnnCreateTensorDescriptor": &cudnn.createTensor, "cudnnSetTensor4dDescriptor": &cudnn.setTensor4d,
		"cudnnCreateFilterDescriptor": &cudnn.createFilter, "cudnnSetFilter4dDescriptor": &cudnn.setFilter4d,
		"cudnnCreateConvolutionDescriptor": &cudnn.createConv, "cudnnSetConvolution2dDescriptor": &cudnn.setConv2d,
		"cudnnSetConvolutionMathType":          &cudnn.setConvMath,
		"cudnnFindConvolutionForwardAlgorithm": &cudnn.findFwd, "cudnnFindConvolutionBackwardDataAlgorithm": &cudnn.findBwdData,
		"cudnnFindConvolutionBackwardFilterAlgorithm": &cudnn.findBwdFilter,
		"cudnnConvolutionForward":                     &cudnn.convFwd, "cudnnConvolutionBackwardData": &cudnn.convBwdData,
		"cudnnConvolutionBackwardFilter": &cudnn.convBwdFilter,
		"cudnnDestroyTensorDescriptor":   &cudnn.destroyTensor, "cudnnDestroyFilterDescriptor": &cudnn.destroyFilter,
		"cudnnDestroyConvolutionDescriptor": &cudnn.destroyConv,
		"cudnnCreatePoolingDescriptor":      &cudnn.createPool, "cudnnSetPooling2dDescriptor": &cudnn.setPool2d,
		"cudnnPoolingForward": &cudnn.poolFwd, "cudnnPoolingBackward": &cudnn.poolBwd,
		"cudnnDestroyPoolingDescriptor":                  &cudnn.destroyPool,
		"cudnnGetConvolutionForwardWorkspaceSize":        &cudnn.getFwdWorkspace,
		"cudnnGetConvolutionBackwardDataWorkspaceSize":   &cudnn.getBwdDataWorkspace,
		"cudnnGetConvolutionBackwardFilterWorkspaceSize": &cudnn.getBwdFilterWorkspace,
		"cudnnGetConvolutionForwardAlgorithm_v7":         &cudnn.getFwdAlgo7,
	}); err != nil {
		return err
	}
	if r := cudnn.create.call(ptr(&d.dnn)); r != 0 {
		return fmt.Errorf("cuda: cudnnCreate: %s (%s)", dnnError(r), l.name)
	}
	if r := cudnn.setStream.call(d.dnn, d.stream); r != 0 {
		return fmt.Errorf("cuda: cudnnSetStream: %s", dnnError(r))
	}
	return nil
}

func dnnError(r int32) string {
	return fmt.Sprintf("%s (cudnnStatus %d)", goString(cudnn.errorString.callPtr(uintptr(r))), r)
}

// DNNVersion returns cuDNN's version number (e.g. 91000).
func DNNVersion() int {
	if cudnn.version == 0 {
		return 0
	}
	return int(cudnn.version.callPtr())
}

func (d *Device) dnnCheck(what string, r int32) bool {
	if r != 0 {
		d.fail(fmt.Errorf("cuda: %s: %s", what, dnnError(r)))
		return false
	}
	return true
}

// ConvShape is a 2-D convolution over channels-last [N, H, W, In] maps
// with a square kernel and no groups, as nn.ConvConfig.
type ConvShape struct {
	N, H, W, In, Out, Kernel, Stride, Padding int
}

// OutSize returns the output height and width.
func (s ConvShape) OutSize() (oh, ow int) {
	return (s.H+2*s.Padding-s.Kernel)/s.Stride + 1, (s.W+2*s.Padding-s.Kernel)/s.Stride + 1
}

// Conv is a convolution planned for one shape: cuDNN descriptors (NHWC
// maps, weights as [Out, K, K, In]) and the fastest algorithm of each
// direction, measured once when the Conv is made.
type Conv struct {
	Shape                ConvShape
	x, y, w, conv        uintptr
	fwd, bwdData, bwdW   int32
	fwdMath, bdMath, bwM int32
	wsFwd, wsBD, wsBW    int
}

// NewConv plans a convolution of shape s on d, choosing each direction's
// algorithm by running the candidates (cudnnFind*), with TF32 allowed when
// d.TF32. backwardData false skips planning the input gradient (a stem
// whose input needs none).
func (d *Device) NewConv(s ConvShape, backwardData bool) (*Conv, error) {
	if s.N <= 0 || s.In <= 0 || s.Out <= 0 || s.Kernel <= 0 || s.Stride <= 0 || s.Padding < 0 {
		return nil, fmt.Errorf("cuda: convolution of shape %+v", s)
	}
	oh, ow := s.OutSize()
	if oh <= 0 || ow <= 0 {
		return nil, fmt.Errorf("cuda: convolution %+v has an empty output", s)
	}
	d.enter()
	defer d.leave()
	c := &Conv{Shape: s}
	ok := d.dnnCheck("cudnnCreateTensorDescriptor", cudnn.createTensor.call(ptr(&c.x))) &&
		d.dnnCheck("cudnnCreateTensorDescriptor", cudnn.createTensor.call(ptr(&c.y))) &&
		d.dnnCheck("cudnnCreateFilterDescriptor", cudnn.createFilter.call(ptr(&c.w))) &&
		d.dnnCheck("cudnnCreateConvolutionDescriptor", cudnn.createConv.call(ptr(&c.conv))) &&
		d.dnnCheck("cudnnSetTensor4dDescriptor", cudnn.setTensor4d.call(c.x, cudnnNHWC, cudnnFloat,
			uintptr(s.N), uintptr(s.In), uintptr(s.H), uintptr(s.W))) &&
		d.dnnCheck("cudnnSetTensor4dDescriptor", cudnn.setTensor4d.call(c.y, cudnnNHWC, cudnnFloat,
			uintptr(s.N), uintptr(s.Out), uintptr(oh), uintptr(ow))) &&
		d.dnnCheck("cudnnSetFilter4dDescriptor", cudnn.setFilter4d.call(c.w, cudnnFloat, cudnnNHWC,
			uintptr(s.Out), uintptr(s.In), uintptr(s.Kernel), uintptr(s.Kernel))) &&
		d.dnnCheck("cudnnSetConvolution2dDescriptor", cudnn.setConv2d.call(c.conv,
			uintptr(s.Padding), uintptr(s.Padding), uintptr(s.Stride), uintptr(s.Stride), 1, 1, cudnnCrossCorr, cudnnFloat))
	if !ok {
		return nil, d.err
	}
	math := uintptr(cudnnFMAMath)
	if d.TF32 {
		math = cudnnTensorOpMath
	}
	if !d.dnnCheck("cudnnSetConvolutionMathType", cudnn.setConvMath.call(c.conv, math)) {
		return nil, d.err
	}
	var err error
	if c.fwd, c.fwdMath, c.wsFwd, err = d.pick("forward", func(n, perf uintptr) int32 {
		return cudnn.findFwd.call(d.dnn, c.x, c.w, c.conv, c.y, cudnnAlgoCandidate, n, perf)
	}); err != nil {
		return nil, err
	}
	if backwardData {
		if c.bwdData, c.bdMath, c.wsBD, err = d.pick("backward data", func(n, perf uintptr) int32 {
			return cudnn.findBwdData.call(d.dnn, c.w, c.y, c.conv, c.x, cudnnAlgoCandidate, n, perf)
		}); err != nil {
			return nil, err
		}
	}
	if c.bwdW, c.bwM, c.wsBW, err = d.pick("backward filter", func(n, perf uintptr) int32 {
		return cudnn.findBwdFilter.call(d.dnn, c.x, c.y, c.conv, c.w, cudnnAlgoCandidate, n, perf)
	}); err != nil {
		return nil, err
	}
	d.workspace(max(c.wsFwd, c.wsBD, c.wsBW))
	return c, d.err
}

// maxWorkspace bounds the scratch memory an algorithm may ask for.
const maxWorkspace = 1 << 30

// pick runs a cudnnFind* call and returns the fastest successful
// algorithm, its math type and workspace bytes.
func (d *Device) pick(what string, find func(n, perf uintptr) int32) (algo, math int32, ws int, err error) {
	var n int32
	perf := make([]int32, cudnnPerfWords*cudnnAlgoCandidate)
	if r := find(ptr(&n), addr(perf)); r != 0 {
		d.fail(fmt.Errorf("cuda: choosing the %s convolution algorithm: %s", what, dnnError(r)))
		return 0, 0, 0, d.err
	}
	for i := 0; i < int(n); i++ {
		p := perf[i*cudnnPerfWords:]
		// algo, status, time (float), pad, memory (size_t), determinism, mathType
		mem := int(uint64(uint32(p[4])) | uint64(uint32(p[5]))<<32)
		if p[1] == 0 && mem <= maxWorkspace {
			// Run each algorithm in the math type it was measured with, as
			// PyTorch does; without TF32, force FMA: cuDNN reports some
			// algorithms as "default math", which on Ampere and later
			// lets them use TF32.
			math := p[7]
			if !d.TF32 {
				math = cudnnFMAMath
			}
			return p[0], math, mem, nil
		}
	}
	return 0, 0, 0, fmt.Errorf("cuda: no %s convolution algorithm runs here", what)
}

// setMath sets the math type an algorithm was measured with.
func (c *Conv) setMath(d *Device, m int32) {
	cudnn.setConvMath.call(c.conv, uintptr(m))
}

// Forward sets y = alpha*conv(x, w) + beta*y; w is [Out, K, K, In].
func (c *Conv) Forward(d *Device, x, w, y Mem, beta float32) {
	if d.err != nil {
		return
	}
	d.enter()
	defer d.leave()
	ab := [2]float32{1, beta}
	ws := d.workspace(c.wsFwd)
	c.setMath(d, c.fwdMath)
	d.dnnCheck("cudnnConvolutionForward", cudnn.convFwd.call(d.dnn, ptr(&ab[0]), c.x, x.Ptr, c.w, w.Ptr, c.conv,
		uintptr(c.fwd), ws.Ptr, uintptr(c.wsFwd), ptr(&ab[1]), c.y, y.Ptr))
}

// BackwardData sets dx = dL/dx + beta*dx for the output gradient dy.
func (c *Conv) BackwardData(d *Device, w, dy, dx Mem, beta float32) {
	if d.err != nil {
		return
	}
	d.enter()
	defer d.leave()
	ab := [2]float32{1, beta}
	ws := d.workspace(c.wsBD)
	c.setMath(d, c.bdMath)
	d.dnnCheck("cudnnConvolutionBackwardData", cudnn.convBwdData.call(d.dnn, ptr(&ab[0]), c.w, w.Ptr, c.y, dy.Ptr, c.conv,
		uintptr(c.bwdData), ws.Ptr, uintptr(c.wsBD), ptr(&ab[1]), c.x, dx.Ptr))
}

// BackwardFilter adds dL/dw for input x and output gradient dy into dw
// (beta 1; beta 0 overwrites).
func (c *Conv) BackwardFilter(d *Device, x, dy, dw Mem, beta float32) {
	if d.err != nil {
		return
	}
	d.enter()
	defer d.leave()
	ab := [2]float32{1, beta}
	ws := d.workspace(c.wsBW)
	c.setMath(d, c.bwM)
	d.dnnCheck("cudnnConvolutionBackwardFilter", cudnn.convBwdFilter.call(d.dnn, ptr(&ab[0]), c.x, x.Ptr, c.y, dy.Ptr, c.conv,
		uintptr(c.bwdW), ws.Ptr, uintptr(c.wsBW), ptr(&ab[1]), c.w, dw.Ptr))
}

// Destroy releases the descriptors.
func (c *Conv) Destroy(d *Device) {
	d.enter()
	defer d.leave()
	cudnn.destroyTensor.call(c.x)
	cudnn.destroyTensor.call(c.y)
	cudnn.destroyFilter.call(c.w)
	cudnn.destroyConv.call(c.conv)
}

// MaxPool is a max-pooling of channels-last maps planned for one shape.
type MaxPool struct {
	N, H, W, C, OH, OW int
	x, y, pool         uintptr
}

// NewMaxPool plans a k×k max-pooling with the given stride and padding of
// [n, h, w, c] maps, as nn.MaxPool2d.
func (d *Device) NewMaxPool(n, h, w, c, k, stride, padding int) (*MaxPool, error) {
	p := &MaxPool{N: n, H: h, W: w, C: c, OH: (h+2*padding-k)/stride + 1, OW: (w+2*padding-k)/stride + 1}
	d.enter()
	defer d.leave()
	ok := d.dnnCheck("cudnnCreateTensorDescriptor", cudnn.createTensor.call(ptr(&p.x))) &&
		d.dnnCheck("cudnnCreateTensorDescriptor", cudnn.createTensor.call(ptr(&p.y))) &&
		d.dnnCheck("cudnnCreatePoolingDescriptor", cudnn.createPool.call(ptr(&p.pool))) &&
		d.dnnCheck("cudnnSetTensor4dDescriptor", cudnn.setTensor4d.call(p.x, cudnnNHWC, cudnnFloat, uintptr(n), uintptr(c), uintptr(h), uintptr(w))) &&
		d.dnnCheck("cudnnSetTensor4dDescriptor", cudnn.setTensor4d.call(p.y, cudnnNHWC, cudnnFloat, uintptr(n), uintptr(c), uintptr(p.OH), uintptr(p.OW))) &&
		d.dnnCheck("cudnnSetPooling2dDescriptor", cudnn.setPool2d.call(p.pool, cudnnPoolingMax, cudnnNotPropagate,
			uintptr(k), uintptr(k), uintptr(padding), uintptr(padding), uintptr(stride), uintptr(stride)))
	if !ok {
		return nil, d.err
	}
	return p, nil
}

// Forward sets y to the pooled x.
func (p *MaxPool) Forward(d *Device, x, y Mem) {
	if d.err != nil {
		return
	}
	d.enter()
	defer d.leave()
	ab := [2]float32{1, 0}
	d.dnnCheck("cudnnPoolingForward", cudnn.poolFwd.call(d.dnn, p.pool, ptr(&ab[0]), p.x, x.Ptr, ptr(&ab[1]), p.y, y.Ptr))
}

// Destroy releases the descriptors.
func (p *MaxPool) Destroy(d *Device) {
	d.enter()
	defer d.leave()
	cudnn.destroyTensor.call(p.x)
	cudnn.destroyTensor.call(p.y)
	cudnn.destroyPool.call(p.pool)
}

// Backward sets dx from dy after a Forward of x giving y.
func (p *MaxPool) Backward(d *Device, x, y, dy, dx Mem) {
	if d.err != nil {
		return
	}
	d.enter()
	defer d.leave()
	ab := [2]float32{1, 0}
	d.dnnCheck("cudnnPoolingBackward", cudnn.poolBwd.call(d.dnn, p.pool, ptr(&ab[0]), p.y, y.Ptr, p.y, dy.Ptr,
		p.x, x.Ptr, ptr(&ab[1]), p.x, dx.Ptr))
}
