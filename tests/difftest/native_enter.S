/* popek_difftest_enter(const RegFile* regs): loads all 16 GPRs and RFLAGS from `regs` (layout in
 * layout.h: gpr[16] in encoding order, rip, rflags) and jumps to regs->rip. It never returns:
 * the test code ends in UD2 or faults, and the signal handler leaves with siglongjmp.
 * The registers go through a static block so that no register is needed to address them. */
    .text
    .globl popek_difftest_enter
    .hidden popek_difftest_enter
    .type popek_difftest_enter, @function
popek_difftest_enter:
    cld
    mov %rdi, %rsi
    lea enter_block(%rip), %rdi
    mov $18, %ecx
    rep movsq
    pushq enter_block+136(%rip)
    popfq
    mov enter_block+0(%rip), %rax
    mov enter_block+8(%rip), %rcx
    mov enter_block+16(%rip), %rdx
    mov enter_block+24(%rip), %rbx
    mov enter_block+40(%rip), %rbp
    mov enter_block+48(%rip), %rsi
    mov enter_block+56(%rip), %rdi
    mov enter_block+64(%rip), %r8
    mov enter_block+72(%rip), %r9
    mov enter_block+80(%rip), %r10
    mov enter_block+88(%rip), %r11
    mov enter_block+96(%rip), %r12
    mov enter_block+104(%rip), %r13
    mov enter_block+112(%rip), %r14
    mov enter_block+120(%rip), %r15
    mov enter_block+32(%rip), %rsp
    jmp *enter_block+128(%rip)
    .size popek_difftest_enter, .-popek_difftest_enter

    .bss
    .balign 16
enter_block:
    .skip 144

    .section .note.GNU-stack,"",@progbits
