/* counter.S - a deterministic guest for snapshot tests (tests/backend/snapshot_test.cpp): prints
 * "count N state=S sse=X mem=M" for N = 0..LINES-1, each line after WORK rounds of integer (LCG),
 * SSE (paddq into xmm0) and memory (a 4 KiB table in .bss) work, then "counter: done" and exits
 * through debug-exit with value 0 (popek status 1). It reads no clock and takes no interrupt, so
 * what it prints depends on its state only: a run snapshotted anywhere and restored must print
 * exactly what an uninterrupted run prints. Other vCPUs park. */
#include "guest.inc"
#ifndef LINES
#define LINES 120
#endif
#ifndef WORK
#define WORK 200000
#endif
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
    PRINT "counter: start\n"
    xor %r13d, %r13d                    /* r13: line number */
    mov $0x12345678, %r12               /* r12: LCG state */
    movabs $6364136223846793005, %r15
    movabs $1442695040888963407, %r14
    pxor %xmm0, %xmm0
    mov $3, %eax
    movq %rax, %xmm1
1:  mov $WORK, %ecx
2:  imul %r15, %r12
    add %r14, %r12
    paddq %xmm1, %xmm0
    pxor %xmm0, %xmm1
    mov %r12, %rax
    shr $52, %rax                       /* 0..4095: a byte of the table */
    lea counter_table(%rip), %rdx
    xor %r12b, (%rdx,%rax)
    add (%rdx,%rax), %r12b
    dec %ecx
    jnz 2b
    PRINT "count "
    mov %r13, %rax
    call guest_put_dec
    PRINT " state="
    mov %r12, %rax
    call guest_put_dec
    PRINT " sse="
    movq %xmm0, %rax
    call guest_put_dec
    PRINT " mem="
    lea counter_table(%rip), %rdx
    mov 2048(%rdx), %rax
    call guest_put_dec
    PRINT "\n"
    inc %r13
    cmp $LINES, %r13
    jb 1b
    PRINT "counter: done\n"
    EXIT 0
    jmp guest_park

#include "guest_lib.inc"

    .bss
    .balign 4096
counter_table:
    .skip 4096
