/* serial_echo.S - polls COM1's line status register, reads lines and echoes each one upper-cased
 * until a line reads "quit"; then prints "bye" and exits with the number of lines echoed.
 * '\r' is ignored; a line longer than the buffer is echoed in pieces (the guest checks its own
 * bounds like any driver must). */
#include "guest.inc"
#define LINE_MAX 64

    .section .text.start, "ax"
    .code64
    .globl _start
_start:
    PARK_OTHER_VCPUS
    PRINT "serial echo ready\n"
    xor %r12d, %r12d                /* lines echoed */
new_line:
    xor %ebx, %ebx                  /* bytes in line */
next_char:
    mov $COM1_LSR, %dx
1:  inb %dx, %al
    test $1, %al                    /* data ready */
    jnz 2f
    pause
    jmp 1b
2:  mov $COM1, %dx
    inb %dx, %al
    cmp $'\r', %al
    je next_char
    cmp $'\n', %al
    je end_of_line
    cmp $'a', %al
    jb 3f
    cmp $'z', %al
    ja 3f
    sub $('a' - 'A'), %al
3:  lea line(%rip), %rsi
    mov %al, (%rsi,%rbx)
    inc %ebx
    cmp $LINE_MAX, %ebx
    jb next_char
    call echo_line                  /* buffer full: echo what we have, keep reading */
    jmp new_line
end_of_line:
    cmp $4, %ebx
    jne 4f
    cmpl $0x54495551, line(%rip)    /* "QUIT" */
    je quit
4:  call echo_line
    jmp new_line
quit:
    PRINT "bye\n"
    mov $DEBUG_EXIT, %dx
    mov %r12d, %eax
    outl %eax, %dx
    jmp guest_park

/* echo_line: prints line[0..rbx) and a newline, counts it */
echo_line:
    lea line(%rip), %rsi
    xor %ecx, %ecx
1:  cmp %ebx, %ecx
    jae 2f
    mov (%rsi,%rcx), %al
    call guest_putc
    inc %ecx
    jmp 1b
2:  mov $'\n', %al
    call guest_putc
    inc %r12d
    ret

    .data
line: .fill LINE_MAX, 1, 0
#include "guest_lib.inc"
