package cuda

import (
	"fmt"
)

// cublas holds cuBLAS's entry points.
var cublas struct {
	create, destroy, setStream, setMathMode, sgemm, version fn
}

// cuBLAS math modes.
const (
	cublasDefaultMath  = 0
	cublasPedanticMath = 2
	cublasTF32Math     = 3
)

func (d *Device) openBLAS(l *library) error {
	if err := bind(l, map[string]*fn{
		"cublasCreate_v2": &cublas.create, "cublasDestroy_v2": &cublas.destroy,
		"cublasSetStream_v2": &cublas.setStream, "cublasSetMathMode": &cublas.setMathMode,
		"cublasSgemm_v2": &cublas.sgemm, "cublasGetVersion_v2": &cublas.version,
	}); err != nil {
		return err
	}
	if r := cublas.create.call(ptr(&d.blas)); r != 0 {
		return fmt.Errorf("cuda: cublasCreate: status %d (%s)", r, l.name)
	}
	if r := cublas.setStream.call(d.blas, d.stream); r != 0 {
		return fmt.Errorf("cuda: cublasSetStream: status %d", r)
	}
	return nil
}

// BLASVersion returns cuBLAS's version number (e.g. 130100), 0 if unknown.
func (d *Device) BLASVersion() int {
	var v int32
	if d.blas != 0 {
		cublas.version.call(d.blas, ptr(&v))
	}
	return int(v)
}

// Gemm computes C = alpha*op(A)*op(B) + beta*C for row-major matrices in
// device memory, with tensor.Gemm's arguments: op(A) is m×k, op(B) k×n, C
// m×n, each with its row stride. It uses TF32 tensor cores when d.TF32.
func (d *Device) Gemm(transA, transB bool, m, n, k int, alpha float32, a Mem, lda int, b Mem, ldb int, beta float32, c Mem, ldc int) {
	if d.err != nil || m == 0 || n == 0 {
		return
	}
	d.enter()
	defer d.leave()
	mode := uintptr(cublasPedanticMath)
	if d.TF32 {
		mode = cublasTF32Math
	}
	cublas.setMathMode.call(d.blas, mode)
	// Row-major C = op(A) op(B) is column-major Cᵀ = op(B)ᵀ op(A)ᵀ: swap
	// the operands, keep the transposition flags.
	op := func(t bool) uintptr {
		if t {
			return 1 // CUBLAS_OP_T
		}
		return 0
	}
	ab := [2]float32{alpha, beta}
	r := cublas.sgemm.call(d.blas, op(transB), op(transA), uintptr(n), uintptr(m), uintptr(k),
		ptr(&ab[0]), b.Ptr, uintptr(ldb), a.Ptr, uintptr(lda), ptr(&ab[1]), c.Ptr, uintptr(ldc))
	if r != 0 {
		d.fail(fmt.Errorf("cuda: cublasSgemm(m=%d n=%d k=%d): status %d", m, n, k, r))
	}
}

func (d *Device) closeLibs() {
	if d.blas != 0 {
		cublas.destroy.call(d.blas)
		d.blas = 0
	}
	if d.dnn != 0 {
		cudnn.destroy.call(d.dnn)
		d.dnn = 0
	}
}
