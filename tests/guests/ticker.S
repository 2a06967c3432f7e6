/* ticker.S - prints "tick N tsc=T" every 100 ms of guest TSC time (2e8 ticks: the own engine's
 * TSC runs at 2 GHz, src/hv/interp/interp_vm.h), 30 times, then exits through debug-exit with value 0
 * (popek status 1). The API's pause test (tests/integration/api_pause.py) pauses it: no tick may
 * appear while paused, and the TSC step across the pause must stay one period (the clock stood
 * still). Other vCPUs park. */
#include "guest.inc"
#define TICK_TSC 200000000
#define TICKS 30
    .section .text.start, "ax"
    .code64
    .globl _start
_start:
    PARK_OTHER_VCPUS
    PRINT "ticker: start\n"
    rdtsc
    shl $32, %rdx
    or %rdx, %rax
    mov %rax, %r12              /* r12: the next tick's TSC */
    xor %r13d, %r13d            /* r13: tick number */
1:  add $TICK_TSC, %r12
2:  pause
    rdtsc
    shl $32, %rdx
    or %rdx, %rax
    cmp %r12, %rax
    jb 2b
    mov %rax, %r14
    PRINT "tick "
    mov %r13, %rax
    call guest_put_dec
    PRINT " tsc="
    mov %r14, %rax
    call guest_put_dec
    PRINT "\n"
    inc %r13
    cmp $TICKS, %r13
    jb 1b
    PRINT "ticker: done\n"
    EXIT 0
    jmp guest_park

#include "guest_lib.inc"
