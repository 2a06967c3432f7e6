/* pv_start.S - entry of popek's PV test guests (own-guest ABI: every vCPU enters here, rdi = its
 * index). vCPU 0 runs the C runtime on the stack popek gave it; the others halt for good. */
    .section .text.start, "ax"
    .code64
    .globl _start
_start:
    test %edi, %edi
    jnz 1f
    call pv_entry
1:  cli
    hlt
    jmp 1b
    .section .note.GNU-stack, "", @progbits
