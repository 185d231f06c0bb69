//go:build !noasm

#include "textflag.h"

// Per-channel kernels (see channel.go). c is a multiple of 8 and > 0.
// The sum kernels walk eight channels at a time down all rows of their
// block (two rows per step, two sets of float32 accumulators), then
// widen the sums to float64 and add them into the caller's accumulators.
// The affine kernels walk rows front to back, eight channels at a time.

// func channelMomentsAVX2(x []float32, rows, c int, mean []float32, sum, sq []float64)
TEXT ·channelMomentsAVX2(SB), NOSPLIT, $0-112
	MOVQ x_base+0(FP), SI
	MOVQ rows+24(FP), R8
	MOVQ c+32(FP), R9
	MOVQ mean_base+40(FP), R10
	MOVQ sum_base+64(FP), R11
	MOVQ sq_base+88(FP), R12
	MOVQ R9, R13
	SHLQ $2, R13 // row stride in bytes
	XORQ BX, BX  // channel

mjloop:
	CMPQ BX, R9
	JAE  mdone
	VMOVUPS (R10)(BX*4), Y14
	VXORPS  Y0, Y0, Y0
	VXORPS  Y1, Y1, Y1
	VXORPS  Y5, Y5, Y5
	VXORPS  Y6, Y6, Y6
	LEAQ    (BX*4), AX // byte offset of (row, channel)
	MOVQ    R8, CX

mrow2:
	CMPQ        CX, $2
	JB          mrow1
	VMOVUPS     (SI)(AX*1), Y2
	ADDQ        R13, AX
	VMOVUPS     (SI)(AX*1), Y3
	ADDQ        R13, AX
	VSUBPS      Y14, Y2, Y2
	VSUBPS      Y14, Y3, Y3
	VADDPS      Y2, Y0, Y0
	VADDPS      Y3, Y5, Y5
	VFMADD231PS Y2, Y2, Y1
	VFMADD231PS Y3, Y3, Y6
	SUBQ        $2, CX
	JMP         mrow2

mrow1:
	TESTQ       CX, CX
	JZ          mflush
	VMOVUPS     (SI)(AX*1), Y2
	VSUBPS      Y14, Y2, Y2
	VADDPS      Y2, Y0, Y0
	VFMADD231PS Y2, Y2, Y1

mflush:
	VADDPS       Y5, Y0, Y0
	VADDPS       Y6, Y1, Y1
	VCVTPS2PD    X0, Y2
	VEXTRACTF128 $1, Y0, X3
	VCVTPS2PD    X3, Y3
	VADDPD       (R11)(BX*8), Y2, Y2
	VADDPD       32(R11)(BX*8), Y3, Y3
	VMOVUPD      Y2, (R11)(BX*8)
	VMOVUPD      Y3, 32(R11)(BX*8)
	VCVTPS2PD    X1, Y2
	VEXTRACTF128 $1, Y1, X3
	VCVTPS2PD    X3, Y3
	VADDPD       (R12)(BX*8), Y2, Y2
	VADDPD       32(R12)(BX*8), Y3, Y3
	VMOVUPD      Y2, (R12)(BX*8)
	VMOVUPD      Y3, 32(R12)(BX*8)
	ADDQ         $8, BX
	JMP          mjloop

mdone:
	VZEROUPPER
	RET

// func channelGradSumsAVX2(dy, x, y []float32, rows, c int, mean []float32, s, sx []float64)
TEXT ·channelGradSumsAVX2(SB), NOSPLIT, $0-160
	MOVQ dy_base+0(FP), DI
	MOVQ x_base+24(FP), SI
	MOVQ y_base+48(FP), DX
	MOVQ rows+72(FP), R8
	MOVQ c+80(FP), R9
	MOVQ mean_base+88(FP), R10
	MOVQ s_base+112(FP), R11
	MOVQ sx_base+136(FP), R12
	MOVQ R9, R13
	SHLQ $2, R13
	VXORPS Y15, Y15, Y15
	XORQ BX, BX

gjloop:
	CMPQ BX, R9
	JAE  gdone
	VMOVUPS (R10)(BX*4), Y14
	VXORPS  Y0, Y0, Y0
	VXORPS  Y1, Y1, Y1
	VXORPS  Y5, Y5, Y5
	VXORPS  Y6, Y6, Y6
	LEAQ    (BX*4), AX
	MOVQ    R8, CX
	TESTQ   DX, DX
	JZ      gplain2

gmask2:
	CMPQ        CX, $2
	JB          gmask1
	VMOVUPS     (DI)(AX*1), Y2
	VMOVUPS     (DX)(AX*1), Y7
	VMOVUPS     (SI)(AX*1), Y4
	ADDQ        R13, AX
	VMOVUPS     (DI)(AX*1), Y3
	VMOVUPS     (DX)(AX*1), Y8
	VMOVUPS     (SI)(AX*1), Y9
	ADDQ        R13, AX
	VCMPPS      $0x0e, Y15, Y7, Y7
	VCMPPS      $0x0e, Y15, Y8, Y8
	VANDPS      Y7, Y2, Y2
	VANDPS      Y8, Y3, Y3
	VSUBPS      Y14, Y4, Y4
	VSUBPS      Y14, Y9, Y9
	VADDPS      Y2, Y0, Y0
	VADDPS      Y3, Y5, Y5
	VFMADD231PS Y2, Y4, Y1
	VFMADD231PS Y3, Y9, Y6
	SUBQ        $2, CX
	JMP         gmask2

gmask1:
	TESTQ       CX, CX
	JZ          gflush
	VMOVUPS     (DI)(AX*1), Y2
	VMOVUPS     (DX)(AX*1), Y7
	VMOVUPS     (SI)(AX*1), Y4
	VCMPPS      $0x0e, Y15, Y7, Y7
	VANDPS      Y7, Y2, Y2
	VSUBPS      Y14, Y4, Y4
	VADDPS      Y2, Y0, Y0
	VFMADD231PS Y2, Y4, Y1
	JMP         gflush

gplain2:
	CMPQ        CX, $2
	JB          gplain1
	VMOVUPS     (DI)(AX*1), Y2
	VMOVUPS     (SI)(AX*1), Y4
	ADDQ        R13, AX
	VMOVUPS     (DI)(AX*1), Y3
	VMOVUPS     (SI)(AX*1), Y9
	ADDQ        R13, AX
	VSUBPS      Y14, Y4, Y4
	VSUBPS      Y14, Y9, Y9
	VADDPS      Y2, Y0, Y0
	VADDPS      Y3, Y5, Y5
	VFMADD231PS Y2, Y4, Y1
	VFMADD231PS Y3, Y9, Y6
	SUBQ        $2, CX
	JMP         gplain2

gplain1:
	TESTQ       CX, CX
	JZ          gflush
	VMOVUPS     (DI)(AX*1), Y2
	VMOVUPS     (SI)(AX*1), Y4
	VSUBPS      Y14, Y4, Y4
	VADDPS      Y2, Y0, Y0
	VFMADD231PS Y2, Y4, Y1

gflush:
	VADDPS       Y5, Y0, Y0
	VADDPS       Y6, Y1, Y1
	VCVTPS2PD    X0, Y2
	VEXTRACTF128 $1, Y0, X3
	VCVTPS2PD    X3, Y3
	VADDPD       (R11)(BX*8), Y2, Y2
	VADDPD       32(R11)(BX*8), Y3, Y3
	VMOVUPD      Y2, (R11)(BX*8)
	VMOVUPD      Y3, 32(R11)(BX*8)
	VCVTPS2PD    X1, Y2
	VEXTRACTF128 $1, Y1, X3
	VCVTPS2PD    X3, Y3
	VADDPD       (R12)(BX*8), Y2, Y2
	VADDPD       32(R12)(BX*8), Y3, Y3
	VMOVUPD      Y2, (R12)(BX*8)
	VMOVUPD      Y3, 32(R12)(BX*8)
	ADDQ         $8, BX
	JMP          gjloop

gdone:
	VZEROUPPER
	RET

// func channelAffineAVX2(o, dy, x, y []float32, rows, c int, coef []float32)
// coef: a, b, mu, d, c values each. o = a*(m*dy) + b*(x-mu) + d.
TEXT ·channelAffineAVX2(SB), NOSPLIT, $0-136
	MOVQ o_base+0(FP), DI
	MOVQ dy_base+24(FP), SI
	MOVQ x_base+48(FP), R8
	MOVQ y_base+72(FP), DX
	MOVQ rows+96(FP), CX
	MOVQ c+104(FP), R9
	MOVQ coef_base+112(FP), R10
	LEAQ (R10)(R9*4), R11 // b
	LEAQ (R11)(R9*4), R12 // mu
	LEAQ (R12)(R9*4), R13 // d
	VXORPS Y15, Y15, Y15
	XORQ AX, AX // element index of the row start

arow:
	TESTQ CX, CX
	JZ    adone
	XORQ  BX, BX // channel
	TESTQ DX, DX
	JZ    aplain

amask:
	LEAQ        (AX)(BX*1), R14
	VMOVUPS     (SI)(R14*4), Y0
	VMOVUPS     (DX)(R14*4), Y1
	VCMPPS      $0x0e, Y15, Y1, Y1
	VANDPS      Y1, Y0, Y0
	VMOVUPS     (R8)(R14*4), Y2
	VSUBPS      (R12)(BX*4), Y2, Y2
	VMULPS      (R11)(BX*4), Y2, Y2
	VADDPS      (R13)(BX*4), Y2, Y2
	VFMADD231PS (R10)(BX*4), Y0, Y2
	VMOVUPS     Y2, (DI)(R14*4)
	ADDQ        $8, BX
	CMPQ        BX, R9
	JB          amask
	JMP         anext

aplain:
	LEAQ        (AX)(BX*1), R14
	VMOVUPS     (SI)(R14*4), Y0
	VMOVUPS     (R8)(R14*4), Y2
	VSUBPS      (R12)(BX*4), Y2, Y2
	VMULPS      (R11)(BX*4), Y2, Y2
	VADDPS      (R13)(BX*4), Y2, Y2
	VFMADD231PS (R10)(BX*4), Y0, Y2
	VMOVUPS     Y2, (DI)(R14*4)
	ADDQ        $8, BX
	CMPQ        BX, R9
	JB          aplain

anext:
	ADDQ R9, AX
	DECQ CX
	JMP  arow

adone:
	VZEROUPPER
	RET

// func channelScaleShiftAVX2(y, x, res []float32, rows, c int, scale, shift []float32, flags int)
TEXT ·channelScaleShiftAVX2(SB), NOSPLIT, $0-144
	MOVQ y_base+0(FP), DI
	MOVQ x_base+24(FP), SI
	MOVQ res_base+48(FP), DX
	MOVQ rows+72(FP), CX
	MOVQ c+80(FP), R9
	MOVQ scale_base+88(FP), R10
	MOVQ shift_base+112(FP), R11
	MOVQ flags+136(FP), R12
	VXORPS Y15, Y15, Y15
	XORQ AX, AX

srow:
	TESTQ CX, CX
	JZ    sdone
	XORQ  BX, BX

scol:
	LEAQ        (AX)(BX*1), R14
	VMOVUPS     (SI)(R14*4), Y0
	VMOVUPS     (R11)(BX*4), Y1
	VFMADD231PS (R10)(BX*4), Y0, Y1
	TESTQ       DX, DX
	JZ          snores
	VADDPS      (DX)(R14*4), Y1, Y1

snores:
	TESTQ   R12, R12
	JZ      snorelu
	VMAXPS  Y1, Y15, Y1 // NaN (second source) goes through

snorelu:
	VMOVUPS Y1, (DI)(R14*4)
	ADDQ    $8, BX
	CMPQ    BX, R9
	JB      scol
	ADDQ    R9, AX
	DECQ    CX
	JMP     srow

sdone:
	VZEROUPPER
	RET

// func maskPositiveAVX2(dst, g, y []float32)
TEXT ·maskPositiveAVX2(SB), NOSPLIT, $0-72
	MOVQ dst_base+0(FP), DI
	MOVQ dst_len+8(FP), CX
	MOVQ g_base+24(FP), SI
	MOVQ y_base+48(FP), DX
	VXORPS Y15, Y15, Y15
	XORQ AX, AX
	MOVQ CX, BX
	ANDQ $-16, BX

pm16:
	CMPQ    AX, BX
	JAE     pm1
	VMOVUPS (DX)(AX*4), Y0
	VMOVUPS 32(DX)(AX*4), Y1
	VCMPPS  $0x0e, Y15, Y0, Y0
	VCMPPS  $0x0e, Y15, Y1, Y1
	VANDPS  (SI)(AX*4), Y0, Y0
	VANDPS  32(SI)(AX*4), Y1, Y1
	VMOVUPS Y0, (DI)(AX*4)
	VMOVUPS Y1, 32(DI)(AX*4)
	ADDQ    $16, AX
	JMP     pm16

pm1:
	CMPQ    AX, CX
	JAE     pmdone
	VMOVSS  (DX)(AX*4), X0
	VMOVSS  (SI)(AX*4), X1
	VCMPSS  $0x0e, X15, X0, X0
	VANDPS  X1, X0, X0
	VMOVSS  X0, (DI)(AX*4)
	INCQ    AX
	JMP     pm1

pmdone:
	VZEROUPPER
	RET
