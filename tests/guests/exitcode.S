/* exitcode.S - exits with a code fixed at build time (tests/guests/CMakeLists.txt builds it as
 * exit_0, exit_5, exit_100, exit_255 with -DEXIT_CODE=N, and as exit_reset with -DEXIT_VIA_RESET).
 * debug-exit value v -> popek status (2v+1) & 0xff; a reset through 0xCF9 -> status 0. */
#include "guest.inc"
    .section .text.start, "ax"
    .code64
    .globl _start
_start:
    PARK_OTHER_VCPUS
#ifdef EXIT_VIA_RESET
    PRINT "exitcode guest: reset through port 0xcf9\n"
    mov $RESET_CONTROL, %dx
    mov $0x06, %al              /* full reset (bit 2 + system reset bit 1) */
    outb %al, %dx
#else
    PRINT "exitcode guest: debug-exit value "
    PUT_DEC $EXIT_CODE
    PRINT "\n"
    EXIT EXIT_CODE
#endif
    PRINT "still running after the exit request\n"
    jmp guest_park

#include "guest_lib.inc"
