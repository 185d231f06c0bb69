//go:build !noasm

#include "textflag.h"

// Element-wise kernels: 32 elements per main-loop iteration (four ymm),
// then 8 at a time, then scalars. AX is the element index throughout.

// func axpyAVX2(alpha float32, x, y []float32)
TEXT ·axpyAVX2(SB), NOSPLIT, $0-56
	MOVQ x_base+8(FP), SI
	MOVQ x_len+16(FP), CX
	MOVQ y_base+32(FP), DI
	VBROADCASTSS alpha+0(FP), Y0
	XORQ AX, AX
	MOVQ CX, BX
	ANDQ $-32, BX
	JZ   axpy8

axpy32:
	VMOVUPS (SI)(AX*4), Y1
	VMOVUPS 32(SI)(AX*4), Y2
	VMOVUPS 64(SI)(AX*4), Y3
	VMOVUPS 96(SI)(AX*4), Y4
	VFMADD213PS (DI)(AX*4), Y0, Y1
	VFMADD213PS 32(DI)(AX*4), Y0, Y2
	VFMADD213PS 64(DI)(AX*4), Y0, Y3
	VFMADD213PS 96(DI)(AX*4), Y0, Y4
	VMOVUPS Y1, (DI)(AX*4)
	VMOVUPS Y2, 32(DI)(AX*4)
	VMOVUPS Y3, 64(DI)(AX*4)
	VMOVUPS Y4, 96(DI)(AX*4)
	ADDQ $32, AX
	CMPQ AX, BX
	JB   axpy32

axpy8:
	MOVQ CX, BX
	ANDQ $-8, BX
	CMPQ AX, BX
	JAE  axpy1

axpy8loop:
	VMOVUPS (SI)(AX*4), Y1
	VFMADD213PS (DI)(AX*4), Y0, Y1
	VMOVUPS Y1, (DI)(AX*4)
	ADDQ $8, AX
	CMPQ AX, BX
	JB   axpy8loop

axpy1:
	CMPQ AX, CX
	JAE  axpydone

axpy1loop:
	VMOVSS (SI)(AX*4), X1
	VFMADD213SS (DI)(AX*4), X0, X1
	VMOVSS X1, (DI)(AX*4)
	INCQ AX
	CMPQ AX, CX
	JB   axpy1loop

axpydone:
	VZEROUPPER
	RET

// func dotAVX2(x, y []float32) float32
TEXT ·dotAVX2(SB), NOSPLIT, $0-52
	MOVQ x_base+0(FP), SI
	MOVQ x_len+8(FP), CX
	MOVQ y_base+24(FP), DI
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	XORQ AX, AX
	MOVQ CX, BX
	ANDQ $-32, BX
	JZ   dot8

dot32:
	VMOVUPS (SI)(AX*4), Y4
	VMOVUPS 32(SI)(AX*4), Y5
	VMOVUPS 64(SI)(AX*4), Y6
	VMOVUPS 96(SI)(AX*4), Y7
	VFMADD231PS (DI)(AX*4), Y4, Y0
	VFMADD231PS 32(DI)(AX*4), Y5, Y1
	VFMADD231PS 64(DI)(AX*4), Y6, Y2
	VFMADD231PS 96(DI)(AX*4), Y7, Y3
	ADDQ $32, AX
	CMPQ AX, BX
	JB   dot32

dot8:
	MOVQ CX, BX
	ANDQ $-8, BX
	CMPQ AX, BX
	JAE  dotsum

dot8loop:
	VMOVUPS (SI)(AX*4), Y4
	VFMADD231PS (DI)(AX*4), Y4, Y0
	ADDQ $8, AX
	CMPQ AX, BX
	JB   dot8loop

dotsum:
	VADDPS Y1, Y0, Y0
	VADDPS Y3, Y2, Y2
	VADDPS Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS X1, X0, X0
	VHADDPS X0, X0, X0
	VHADDPS X0, X0, X0
	CMPQ AX, CX
	JAE  dotdone

dot1loop:
	VMOVSS (SI)(AX*4), X4
	VFMADD231SS (DI)(AX*4), X4, X0
	INCQ AX
	CMPQ AX, CX
	JB   dot1loop

dotdone:
	VMOVSS X0, ret+48(FP)
	VZEROUPPER
	RET

// func scaleAVX2(alpha float32, x []float32)
TEXT ·scaleAVX2(SB), NOSPLIT, $0-32
	MOVQ x_base+8(FP), SI
	MOVQ x_len+16(FP), CX
	VBROADCASTSS alpha+0(FP), Y0
	XORQ AX, AX
	MOVQ CX, BX
	ANDQ $-32, BX
	JZ   scale8

scale32:
	VMULPS (SI)(AX*4), Y0, Y1
	VMULPS 32(SI)(AX*4), Y0, Y2
	VMULPS 64(SI)(AX*4), Y0, Y3
	VMULPS 96(SI)(AX*4), Y0, Y4
	VMOVUPS Y1, (SI)(AX*4)
	VMOVUPS Y2, 32(SI)(AX*4)
	VMOVUPS Y3, 64(SI)(AX*4)
	VMOVUPS Y4, 96(SI)(AX*4)
	ADDQ $32, AX
	CMPQ AX, BX
	JB   scale32

scale8:
	MOVQ CX, BX
	ANDQ $-8, BX
	CMPQ AX, BX
	JAE  scale1

scale8loop:
	VMULPS (SI)(AX*4), Y0, Y1
	VMOVUPS Y1, (SI)(AX*4)
	ADDQ $8, AX
	CMPQ AX, BX
	JB   scale8loop

scale1:
	CMPQ AX, CX
	JAE  scaledone

scale1loop:
	VMULSS (SI)(AX*4), X0, X1
	VMOVSS X1, (SI)(AX*4)
	INCQ AX
	CMPQ AX, CX
	JB   scale1loop

scaledone:
	VZEROUPPER
	RET

// func addAVX2(dst, a, b []float32)
TEXT ·addAVX2(SB), NOSPLIT, $0-72
	MOVQ dst_base+0(FP), DI
	MOVQ dst_len+8(FP), CX
	MOVQ a_base+24(FP), SI
	MOVQ b_base+48(FP), DX
	XORQ AX, AX
	MOVQ CX, BX
	ANDQ $-32, BX
	JZ   add8

add32:
	VMOVUPS (SI)(AX*4), Y1
	VMOVUPS 32(SI)(AX*4), Y2
	VMOVUPS 64(SI)(AX*4), Y3
	VMOVUPS 96(SI)(AX*4), Y4
	VADDPS (DX)(AX*4), Y1, Y1
	VADDPS 32(DX)(AX*4), Y2, Y2
	VADDPS 64(DX)(AX*4), Y3, Y3
	VADDPS 96(DX)(AX*4), Y4, Y4
	VMOVUPS Y1, (DI)(AX*4)
	VMOVUPS Y2, 32(DI)(AX*4)
	VMOVUPS Y3, 64(DI)(AX*4)
	VMOVUPS Y4, 96(DI)(AX*4)
	ADDQ $32, AX
	CMPQ AX, BX
	JB   add32

add8:
	MOVQ CX, BX
	ANDQ $-8, BX
	CMPQ AX, BX
	JAE  add1

add8loop:
	VMOVUPS (SI)(AX*4), Y1
	VADDPS (DX)(AX*4), Y1, Y1
	VMOVUPS Y1, (DI)(AX*4)
	ADDQ $8, AX
	CMPQ AX, BX
	JB   add8loop

add1:
	CMPQ AX, CX
	JAE  adddone

add1loop:
	VMOVSS (SI)(AX*4), X1
	VADDSS (DX)(AX*4), X1, X1
	VMOVSS X1, (DI)(AX*4)
	INCQ AX
	CMPQ AX, CX
	JB   add1loop

adddone:
	VZEROUPPER
	RET

// func addRunsAVX2(d, col []float32, offs []int)
// For each group of eight values of d: load, add the group at every
// offset of col, store.
TEXT ·addRunsAVX2(SB), NOSPLIT, $0-72
	MOVQ d_base+0(FP), DI
	MOVQ d_len+8(FP), CX
	MOVQ col_base+24(FP), SI
	MOVQ offs_base+48(FP), R8
	MOVQ offs_len+56(FP), R9
	XORQ AX, AX // value index in d

runsgroup:
	CMPQ    AX, CX
	JAE     runsdone
	VMOVUPS (DI)(AX*4), Y0
	XORQ    BX, BX // offset index

runsoff:
	MOVQ    (R8)(BX*8), DX
	ADDQ    AX, DX
	VADDPS  (SI)(DX*4), Y0, Y0
	INCQ    BX
	CMPQ    BX, R9
	JB      runsoff
	VMOVUPS Y0, (DI)(AX*4)
	ADDQ    $8, AX
	JMP     runsgroup

runsdone:
	VZEROUPPER
	RET
