/* bzimage_entry.S - the 64-bit entry of a fake Linux bzImage. tests/backend/loader_boot_test.cpp
 * takes this guest's code and wraps it into a bzImage (payload offset 0x200 = the 64-bit entry of
 * Documentation/arch/x86/boot.rst), so it runs wherever the loader puts the kernel: the code is
 * position-independent. It checks the zero page in rsi and prints
 *   "bz: loader ff e820 NN cmdline <string>"
 * then exits with 0x13 (status 39), or 0x3d when rsi does not point at a zero page with our
 * setup header or code32_start is not where this code was loaded. (As an own-ABI ELF it fails.) */
#include "guest.inc"
    .section .text.start, "ax"
    .code64
    .globl _start
_start:
    cmpl $0x53726448, 0x202(%rsi)   /* hdr.header "HdrS" */
    jne bad
    lea _start(%rip), %rax
    sub $0x200, %rax
    cmp 0x214(%rsi), %eax           /* hdr.code32_start = load address */
    jne bad
    mov %rsi, %rbp
    lea msg_loader(%rip), %rsi
    call puts
    movzbl 0x210(%rbp), %eax        /* hdr.type_of_loader */
    call puthex_byte
    lea msg_e820(%rip), %rsi
    call puts
    movzbl 0x1e8(%rbp), %eax        /* e820_entries */
    call puthex_byte
    lea msg_cmdline(%rip), %rsi
    call puts
    mov 0x228(%rbp), %esi           /* hdr.cmd_line_ptr */
    call puts
    mov $'\n', %al
    PUTC_AL
    EXIT 0x13
bad:
    EXIT 0x3d
1:  hlt
    jmp 1b

puts:
    mov $COM1, %dx
1:  lodsb
    test %al, %al
    jz 2f
    outb %al, %dx
    jmp 1b
2:  ret
puthex_byte:
    mov $2, %ecx
    shl $24, %eax
1:  rol $4, %eax
    mov %eax, %edi
    and $0xf, %eax
    lea hexdigits(%rip), %rdx
    movzbl (%rdx,%rax), %eax
    PUTC_AL
    mov %edi, %eax
    loop 1b
    ret

hexdigits:   .ascii "0123456789abcdef"
msg_loader:  .asciz "bz: loader "
msg_e820:    .asciz " e820 "
msg_cmdline: .asciz " cmdline "
