/* Interrupt, exception and system call entry; context switch. The frame layout is
 * struct TrapFrame (arch/trap_frame.h). GS: the kernel's GS base points at the per-CPU
 * struct Cpu; SWAPGS on every transition from and to ring 3 (SDM Vol. 2B SWAPGS). */

.macro PUSH_GPRS
        push %rax
        push %rbx
        push %rcx
        push %rdx
        push %rsi
        push %rdi
        push %rbp
        push %r8
        push %r9
        push %r10
        push %r11
        push %r12
        push %r13
        push %r14
        push %r15
.endm

.macro POP_GPRS
        pop %r15
        pop %r14
        pop %r13
        pop %r12
        pop %r11
        pop %r10
        pop %r9
        pop %r8
        pop %rbp
        pop %rdi
        pop %rsi
        pop %rdx
        pop %rcx
        pop %rbx
        pop %rax
.endm

        .text
/* One 16-byte stub per vector: push a zero error code where the CPU pushes none
 * (SDM Vol. 3A 6.13: 8, 10-14, 17, 21, 29, 30 have one), push the vector, go common. */
        .balign 16
        .globl isr_stubs
isr_stubs:
        .set vec, 0
        .rept 256
        .balign 16
        .if (vec == 8) || (vec >= 10 && vec <= 14) || (vec == 17) || (vec == 21) || (vec == 29) || (vec == 30)
        .else
        pushq $0
        .endif
        pushq $vec
        jmp isr_common
        .set vec, vec + 1
        .endr

isr_common:
        testb $3, 24(%rsp)              /* CS of the interrupted context */
        jz 1f
        swapgs
1:      PUSH_GPRS
        cld
        mov %rsp, %rdi
        call trap_dispatch
        .globl trap_return
trap_return:
        POP_GPRS
        testb $3, 24(%rsp)
        jz 2f
        swapgs
2:      add $16, %rsp                   /* vector, error */
        iretq

/* SYSCALL: rcx = user rip, r11 = user rflags, IF cleared by SFMASK. */
        .globl syscall_entry
syscall_entry:
        swapgs
        mov %rsp, %gs:16
        mov %gs:8, %rsp
        pushq $0x23                     /* ss: user data */
        pushq %gs:16                    /* rsp */
        push %r11                       /* rflags */
        pushq $0x2b                     /* cs: user code */
        push %rcx                       /* rip */
        pushq $0                        /* error */
        pushq $0x100                    /* vector: kSyscallVector */
        PUSH_GPRS
        cld
        mov %rsp, %rdi
        call syscall_dispatch
        /* SYSRET needs a canonical rip below the top of the user half; anything else
         * (and frames a signal-like path changed) leaves through IRETQ. */
        mov 120 + 16(%rsp), %rcx        /* frame.rip (15 GPRs, vector, error) */
        movabs $0x00007ffffffff000, %rax
        cmp %rax, %rcx
        jae trap_return
        cmpq $0x2b, 120 + 24(%rsp)      /* frame.cs */
        jne trap_return
        POP_GPRS
        mov 16(%rsp), %rcx              /* rip */
        mov 32(%rsp), %r11              /* rflags */
        mov 40(%rsp), %rsp              /* user rsp */
        swapgs
        sysretq

/* void switch_context(uint64_t* save_rsp, uint64_t next_rsp): saves the callee-saved
 * registers of the current thread on its stack and resumes the next one. */
        .globl switch_context
switch_context:
        push %rbx
        push %rbp
        push %r12
        push %r13
        push %r14
        push %r15
        mov %rsp, (%rdi)
        mov %rsi, %rsp
        pop %r15
        pop %r14
        pop %r13
        pop %r12
        pop %rbp
        pop %rbx
        ret

/* First run of a thread: r12 = entry, r13 = argument (set up by Thread creation). */
        .globl thread_trampoline
thread_trampoline:
        call sched_new_thread_started
        mov %r13, %rdi
        call *%r12
        call sched_exit_current
        ud2

        .section .note.GNU-stack, "", @progbits
