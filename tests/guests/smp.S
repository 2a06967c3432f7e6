/* smp.S - every vCPU prints "cpu N of M" under a spinlock; the last one to finish checks that
 * each index came exactly once, that every vCPU was told the same count, and that the
 * per-vCPU stacks are at least 16 KiB apart (docs/guest-abi.md), then exits with the number of
 * problems found (0 -> popek status 1). */
#include "guest.inc"
#define MAX_CPUS 256
#define STACK_BYTES 0x4000

    .section .text.start, "ax"
    .code64
    .globl _start
_start:
    mov %edi, %r12d                 /* my index */
    mov %esi, %r13d                 /* vCPU count as this vCPU was told */
    lea stack_tops(%rip), %rax
    mov %rsp, (%rax,%r12,8)

    SPIN_LOCK print_lock(%rip)
    PRINT "cpu "
    PUT_DEC %r12
    PRINT " of "
    PUT_DEC %r13
    PRINT "\n"
    lock btsl %r12d, seen(%rip)     /* CF = already seen */
    jnc 1f
    lock incl problems(%rip)
    PRINT "duplicate vCPU index\n"
1:  cmp count_told(%rip), %r13d
    je 2f
    cmpl $0, count_told(%rip)
    jne 3f
    mov %r13d, count_told(%rip)
    jmp 2f
3:  lock incl problems(%rip)
    PRINT "vCPUs disagree on the count\n"
2:  SPIN_UNLOCK print_lock(%rip)

    mov $1, %eax
    lock xadd %eax, finished(%rip)
    inc %eax
    cmp %r13d, %eax
    jne guest_park                  /* not the last one */

    /* last vCPU: every index 0..M-1 seen, stacks pairwise >= 16 KiB apart */
    xor %ecx, %ecx
4:  cmp %r13d, %ecx
    jae 6f
    bt %ecx, seen(%rip)
    jc 5f
    lock incl problems(%rip)
    PRINT "a vCPU index is missing\n"
5:  inc %ecx
    jmp 4b
6:  lea stack_tops(%rip), %rsi
    xor %ecx, %ecx
7:  lea 1(%rcx), %edx
8:  cmp %r13d, %edx
    jae 10f
    mov (%rsi,%rcx,8), %rax
    sub (%rsi,%rdx,8), %rax
    jns 9f
    neg %rax
9:  cmp $STACK_BYTES, %rax
    jae 11f
    lock incl problems(%rip)
    PRINT "two vCPUs share a stack\n"
11: inc %edx
    jmp 8b
10: inc %ecx
    cmp %r13d, %ecx
    jb 7b
    PRINT "all "
    PUT_DEC %r13
    PRINT " vCPUs reported, problems: "
    mov problems(%rip), %eax
    PUT_DEC %rax
    PRINT "\n"
    mov $DEBUG_EXIT, %dx
    outl %eax, %dx
    jmp guest_park

    .data
    .balign 8
stack_tops:  .fill MAX_CPUS, 8, 0
seen:        .fill MAX_CPUS / 8, 1, 0
    .balign 4
print_lock:  .long 0
finished:    .long 0
problems:    .long 0
count_told:  .long 0
#include "guest_lib.inc"
