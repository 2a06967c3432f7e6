/* hold.S - prints "hold: up" on COM1, then idles in `sti; hlt` for good (no device raises an
 * interrupt, so the vCPU sleeps): bench/density_bench starts many at once and measures each VMM's
 * own memory while they all stay up. Other vCPUs park. */
#include "guest.inc"
    .section .text.start, "ax"
    .code64
    .globl _start
_start:
    PARK_OTHER_VCPUS
    PRINT "hold: up\n"
1:  sti
    hlt
    jmp 1b

#include "guest_lib.inc"
