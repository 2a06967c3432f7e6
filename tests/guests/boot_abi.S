/* boot_abi.S - checks the own-guest ABI entry state (docs/guest-abi.md) on every vCPU and prints
 * a summary on COM1 for tests/backend/loader_boot_test.cpp:
 *   "abi: vcpus ok NN of NN efer XXXXXXXX cr4 XXXXXXXX"
 *   "abi: cmdline <string>"                    (when rdx != 0)
 *   "abi: initrd size XXXXXXXX first XX"      (when r8 != 0)
 * then exits through debug-exit with 0x12 (status 37) when every vCPU passed, 0x3f otherwise.
 * Per vCPU: rsp = 0x10000 + (rdi+1)*0x4000, CS = 0x10, SS = DS = 0x18, IF = 0. */
#include "guest.inc"
    .section .text.start, "ax"
    .code64
    .globl _start
_start:
    mov %rdi, %rax
    inc %rax
    shl $14, %rax
    add $0x10000, %rax
    cmp %rax, %rsp
    jne fail
    mov %cs, %eax
    cmp $0x10, %eax
    jne fail
    mov %ss, %eax
    cmp $0x18, %eax
    jne fail
    mov %ds, %eax
    cmp $0x18, %eax
    jne fail
    pushfq
    pop %rax
    test $0x200, %eax
    jnz fail
    push %rax                 /* the stack must be usable */
    pop %rax
    lock incl ok_count(%rip)
    jmp arrived
fail:
    lock incl bad_count(%rip)
arrived:
    test %edi, %edi
    jnz park
    mov %esi, %r12d           /* vCPU count */
    mov %rdx, %r13            /* cmdline */
    mov %rcx, %r14            /* initrd */
    mov %r8, %r15             /* initrd size */
1:  mov ok_count(%rip), %eax  /* wait for every vCPU */
    add bad_count(%rip), %eax
    cmp %r12d, %eax
    jb 1b
    PUTS msg_vcpus
    mov ok_count(%rip), %eax
    call puthex_byte
    PUTS msg_of
    mov %r12d, %eax
    call puthex_byte
    PUTS msg_efer
    mov $0xc0000080, %ecx
    rdmsr
    call puthex32
    PUTS msg_cr4
    mov %cr4, %rax
    call puthex32
    mov $'\n', %al
    PUTC_AL
    test %r13, %r13
    jz 2f
    PUTS msg_cmdline
    mov %r13, %rsi
    call guest_puts
    mov $'\n', %al
    PUTC_AL
2:  test %r15, %r15
    jz 3f
    PUTS msg_initrd
    mov %r15d, %eax
    call puthex32
    PUTS msg_first
    movzbl (%r14), %eax
    call puthex_byte
    mov $'\n', %al
    PUTC_AL
3:  cmp %r12d, ok_count(%rip)
    jne 4f
    EXIT 0x12
4:  EXIT 0x3f
park:
    cli
    hlt
    jmp park

/* guest_puts: rsi = string */
guest_puts:
    mov $COM1, %dx
1:  lodsb
    test %al, %al
    jz 2f
    outb %al, %dx
    jmp 1b
2:  ret
/* puthex_byte: low byte of eax; puthex32: eax (clobber eax, ecx, edx, rsi) */
puthex_byte:
    mov $2, %ecx
    shl $24, %eax
    jmp puthex
puthex32:
    mov $8, %ecx
puthex:
    rol $4, %eax
    mov %eax, %esi
    and $0xf, %eax
    lea hexdigits(%rip), %rdx
    movzbl (%rdx,%rax), %eax
    PUTC_AL
    mov %esi, %eax
    loop puthex
    ret

hexdigits:   .ascii "0123456789abcdef"
msg_vcpus:   .asciz "abi: vcpus ok "
msg_of:      .asciz " of "
msg_efer:    .asciz " efer "
msg_cr4:     .asciz " cr4 "
msg_cmdline: .asciz "abi: cmdline "
msg_initrd:  .asciz "abi: initrd size "
msg_first:   .asciz " first "
    .balign 4
ok_count:    .long 0
bad_count:   .long 0
