/* aesni.S - AES-NI and PCLMULQDQ in a guest (tests/backend/guests_test.cpp; SDM Vol. 2A AESENC..
 * AESKEYGENASSIST, Vol. 2B PCLMULQDQ). Checks CPUID.1:ECX AES (25) and PCLMULQDQ (1), the FIPS-197
 * Appendix C.1 AES-128 example (key schedule with AESKEYGENASSIST as in Intel's AES-NI white
 * paper, AESENC x9 + AESENCLAST, then the Equivalent Inverse Cipher: AESIMC, AESDEC x9,
 * AESDECLAST), PCLMULQDQ under its four selectors with a memory operand, then encrypts a block
 * ROUNDS times in a chain, folding PCLMULQDQ products of each result into an accumulator (the
 * loop `popek run --stats` looks at: none of these should leave translated code on bt), and checks
 * both against values computed on the host with the same intrinsics. Exits with the failure count
 * (guest_finish). Without AES-NI/PCLMULQDQ in CPUID it says so and exits with 0 failures. */
#include "guest.inc"
#ifndef ROUNDS
#define ROUNDS 200000
#endif

/* Round key \n from round key \n-1 in xmm1 (AES_128_ASSIST); xmm2, xmm3 scratch. */
.macro EXPAND rcon, n
    aeskeygenassist $\rcon, %xmm1, %xmm2
    pshufd $0xff, %xmm2, %xmm2
    movdqa %xmm1, %xmm3
    pslldq $4, %xmm3
    pxor %xmm3, %xmm1
    pslldq $4, %xmm3
    pxor %xmm3, %xmm1
    pslldq $4, %xmm3
    pxor %xmm3, %xmm1
    pxor %xmm2, %xmm1
    movdqa %xmm1, 16*\n(%rdi)
.endm

    .section .text.start, "ax"
    .code64
    .globl _start
_start:
    PARK_OTHER_VCPUS
    /* SSE on (SDM Vol. 3A 13.1.3): CR4.OSFXSR, CR0.MP set, CR0.EM clear. */
    mov %cr4, %rax
    or $0x600, %rax
    mov %rax, %cr4
    mov %cr0, %rax
    and $~4, %rax
    or $2, %rax
    mov %rax, %cr0
    mov $1, %eax
    cpuid
    bt $25, %ecx
    jnc no_aes
    bt $1, %ecx
    jnc no_aes

    lea round_keys(%rip), %rdi
    movdqa fips_key(%rip), %xmm1
    movdqa %xmm1, (%rdi)
    EXPAND 0x01, 1
    EXPAND 0x02, 2
    EXPAND 0x04, 3
    EXPAND 0x08, 4
    EXPAND 0x10, 5
    EXPAND 0x20, 6
    EXPAND 0x40, 7
    EXPAND 0x80, 8
    EXPAND 0x1b, 9
    EXPAND 0x36, 10
    mov 160(%rdi), %rax
    movabs $0x174a94e37f1d1113, %rdx
    CHECK "round key 10 low", %rax, %rdx
    movdqa fips_plain(%rip), %xmm0
    call encrypt
    movq %xmm0, %rax
    movabs $0x30047b6ad8e0c469, %rdx
    CHECK "ciphertext low", %rax, %rdx
    pextrw $7, %xmm0, %eax
    CHECK "ciphertext last word", %rax, $0x5ac5, 4

    /* Decryption (FIPS-197 5.3.5): round keys 9..1 through AESIMC. */
    movdqa %xmm0, %xmm4
    pxor 160(%rdi), %xmm4
    .irp n, 9, 8, 7, 6, 5, 4, 3, 2, 1
    aesimc 16*\n(%rdi), %xmm5
    aesdec %xmm5, %xmm4
    .endr
    aesdeclast (%rdi), %xmm4
    movq %xmm4, %rax
    movabs $0x7766554433221100, %rdx
    CHECK "decrypted low", %rax, %rdx
    movhlps %xmm4, %xmm4
    movq %xmm4, %rax
    movabs $0xffeeddccbbaa9988, %rdx
    CHECK "decrypted high", %rax, %rdx

    /* PCLMULQDQ: a = (0x8000000000000001, 3) times b = (all ones, 3) from memory. */
    .irp sel, 0x00, 0x01, 0x10, 0x11
    movdqa clmul_a(%rip), %xmm6
    pclmulqdq $\sel, clmul_b(%rip), %xmm6
    movdqa %xmm6, clmul_out + (\sel & 1) * 16 + (\sel >> 4) * 32(%rip)
    .endr
    CHECK "pclmulqdq 00 low", clmul_out(%rip), $0x7fffffffffffffff
    CHECK "pclmulqdq 00 high", clmul_out+8(%rip), $0x7fffffffffffffff
    CHECK "pclmulqdq 01 low", clmul_out+16(%rip), $1
    CHECK "pclmulqdq 01 high", clmul_out+24(%rip), $1
    movabs $0x8000000000000003, %rdx
    CHECK "pclmulqdq 10 low", clmul_out+32(%rip), %rdx
    CHECK "pclmulqdq 10 high", clmul_out+40(%rip), $1
    CHECK "pclmulqdq 11 low", clmul_out+48(%rip), $5
    CHECK "pclmulqdq 11 high", clmul_out+56(%rip), $0

    /* The loop: xmm0 = E(xmm0), xmm7 ^= clmul(xmm0 low, xmm0 high). */
    pxor %xmm7, %xmm7
    mov $ROUNDS, %ecx
1:  call encrypt
    movdqa %xmm0, %xmm6
    pclmulqdq $0x10, %xmm0, %xmm6
    pxor %xmm6, %xmm7
    dec %ecx
    jnz 1b
#if ROUNDS == 200000
    movq %xmm0, %rax
    movabs $0xada04d87a8ef5449, %rdx
    CHECK "chain of 200000 blocks", %rax, %rdx
    movq %xmm7, %rax
    movabs $0xca3edfbc6d26d824, %rdx
    CHECK "clmul accumulator", %rax, %rdx
#endif
    jmp guest_finish

no_aes:
    PRINT "aesni: CPUID shows no AES-NI/PCLMULQDQ\n"
    jmp guest_finish

/* xmm0 = AES-128 encryption of xmm0 with the round keys at rdi. */
encrypt:
    pxor (%rdi), %xmm0
    .irp n, 1, 2, 3, 4, 5, 6, 7, 8, 9
    aesenc 16*\n(%rdi), %xmm0
    .endr
    aesenclast 160(%rdi), %xmm0
    ret

#include "guest_lib.inc"

    .section .rodata
    .balign 16
fips_key:   .byte 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f
fips_plain: .byte 0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff
clmul_a:    .quad 0x8000000000000001, 3
clmul_b:    .quad 0xffffffffffffffff, 3
    .bss
    .balign 16
round_keys: .skip 176
clmul_out:  .skip 64
