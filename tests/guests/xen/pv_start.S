/* pv_start.S - entry of popek's PV test guests (own-guest ABI: every vCPU enters here, rdi = its
 * index, each on its own stack). vCPU 0 runs the C runtime; the others call pv_ap_entry(index),
 * which a guest may define (C: void pv_ap_entry(int vcpu)), and halt for good when it returns.
 * The weak default below returns at once, so guests that define none keep their APs halted. */
    .section .text.start, "ax"
    .code64
    .globl _start
_start:
    test %edi, %edi
    jnz 2f
    call pv_entry
1:  cli
    hlt
    jmp 1b
2:  call pv_ap_entry
    jmp 1b

    .text
    .weak pv_ap_entry
    .type pv_ap_entry, @function
pv_ap_entry:
    ret
    .section .note.GNU-stack, "", @progbits
