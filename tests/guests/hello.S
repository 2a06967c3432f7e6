/* hello.S - prints one line on COM1 and exits through debug-exit with value 0 (popek status 1).
 * Other vCPUs park. */
#include "guest.inc"
    .section .text.start, "ax"
    .code64
    .globl _start
_start:
    PARK_OTHER_VCPUS
    PRINT "hello from a popek test guest\n"
    EXIT 0
    jmp guest_park

#include "guest_lib.inc"
