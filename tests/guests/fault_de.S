/* fault_de.S - #DE (vector 0, no error code, a fault: saved RIP = the DIV) in ring 0 and ring 3:
 * divide by zero, signed overflow, quotients too wide for 8 and 64 bits. */
#include "guest.inc"
#include "cpu.inc"
#include "fault.inc"
    FAULT_GUEST_START "fault class #DE"
    xor %ecx, %ecx
    mov $1, %eax
    xor %edx, %edx
    KFAULT "#DE div by zero", 0, 0, 0, 0, divl %ecx
    mov $0x80000000, %eax
    mov $0xffffffff, %edx
    mov $-1, %ecx
    KFAULT "#DE idiv INT_MIN / -1", 0, 0, 0, 0, idivl %ecx
    mov $0x1000, %eax
    mov $1, %ecx
    KFAULT "#DE 8-bit quotient overflow", 0, 0, 0, 0, divb %cl
    mov $1, %edx
    xor %eax, %eax
    mov $1, %ecx
    KFAULT "#DE 64-bit quotient overflow", 0, 0, 0, 0, divq %rcx
    xor %ecx, %ecx
    xor %edx, %edx
    UFAULT "#DE ring3 div by zero", 0, 0, 0, 0, divl %ecx
    call guest_finish
#include "guest_lib.inc"
