/* demo.S - the guest built into popek: `popek run` with no --kernel boots it.
 * Prints a banner, the CPU vendor and the vCPU count seen by the engine, then resets the
 * machine through port 0xCF9 so popek exits with status 0. */
#include "guest.inc"
    .section .text.start, "ax"
    .code64
    .globl _start
_start:
    test %edi, %edi           /* only vCPU 0 talks; the others halt */
    jnz guest_park
    mov %esi, %r12d           /* vCPU count */
    PUTS banner
    PUTS vendor_msg
    xor %eax, %eax
    cpuid
    sub $16, %rsp
    mov %ebx, 0(%rsp)
    mov %edx, 4(%rsp)
    mov %ecx, 8(%rsp)
    movb $0, 12(%rsp)
    mov %rsp, %rsi
    call guest_puts
    add $16, %rsp
    PUTS cpus_msg
    mov %r12d, %eax
    add $'0', %al
    PUTC_AL
    mov $'\n', %al
    PUTC_AL
    PUTS bye
    mov $0xcf9, %dx           /* reset control register: full reset */
    mov $0x06, %al
    outb %al, %dx
    jmp guest_park

banner:     .asciz "popek demo guest: hello from a virtual machine\n"
vendor_msg: .asciz "cpu vendor: "
cpus_msg:   .asciz "\nvcpus: "
bye:        .asciz "resetting the machine; popek exits with status 0\n"

#include "guest_lib.inc"
