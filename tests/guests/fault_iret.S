/* fault_iret.S - IRETQ to ring 3 and back (SDM Vol. 3A 6.14.3, IRET in Vol. 2A): ring 3 runs
 * with CS=0x23 SS=0x1b, DS/ES nulled by the privilege change; INT 0x81 from ring 3 comes back
 * by IRETQ with registers intact; the frame ring 3 leaves with holds its CS, SS, RSP and RIP;
 * IRETQ with a bad CS or SS faults with #GP(selector) at the IRETQ. */
#include "guest.inc"
#include "cpu.inc"
#include "fault.inc"
    FAULT_GUEST_START "fault class IRET"
    mov $KERNEL_DS, %eax
    mov %eax, %ds
    mov %eax, %es
    movl $0, user_service_calls(%rip)
    UFAULT "IRETQ to ring3, INT 0x80 back", VEC_USER_EXIT, 0, 0, 2, int $VEC_USER_EXIT
    lea user_stack_top(%rip), %rax
    CHECK "frame rsp = user stack top", fault_rsp(%rip), %rax
    CHECK "frame ss", fault_ss(%rip), $USER_DS, 4
    CHECK "frame rflags (IF, IOPL 0)", fault_rflags(%rip), $0x202, 8

    lea ring3_program(%rip), %rdi
    call call_user
    CHECK "ring3 cs", ring3_cs(%rip), $USER_CS, 4
    CHECK "ring3 ss", ring3_ss(%rip), $USER_DS, 4
    CHECK "ring3 ds nulled by IRETQ", ring3_ds(%rip), $0, 4
    CHECK "ring3 es nulled by IRETQ", ring3_es(%rip), $0, 4
    CHECK "INT 0x81 calls served", user_service_calls(%rip), $2, 2
    mov $0x0123456789abcdef, %rdx
    CHECK "r12 across INT/IRETQ", ring3_r12(%rip), %rdx
    lea ring3_done(%rip), %rax
    CHECK "ring3 ran to its end", fault_rip(%rip), %rax

    /* IRETQ with CS = a data segment: #GP(0x10) at the IRETQ; the frame stays pushed */
    lea ring3_program(%rip), %rax
    pushq $KERNEL_DS
    push %rsp
    pushq $0x2
    pushq $KERNEL_DS
    push %rax
    KFAULT "IRETQ to a data segment as CS", 13, KERNEL_DS, 0, 0, iretq
    add $40, %rsp
    /* IRETQ to ring 3 with SS RPL 0: #GP(SS selector) */
    pushq $KERNEL_DS
    push %rsp
    pushq $0x202
    pushq $USER_CS
    push %rax
    KFAULT "IRETQ to ring3 with SS RPL 0", 13, KERNEL_DS, 0, 0, iretq
    add $40, %rsp
    call guest_finish

/* ring 3: save what it sees, call the null service twice, then leave through INT 0x80 */
    .section .text.user, "ax"
ring3_program:
    xor %eax, %eax
    mov %cs, %ax
    mov %rax, ring3_cs(%rip)
    mov %ss, %ax
    mov %rax, ring3_ss(%rip)
    mov %ds, %ax
    mov %rax, ring3_ds(%rip)
    mov %es, %ax
    mov %rax, ring3_es(%rip)
    mov $0x0123456789abcdef, %r12
    int $VEC_USER_SERVICE
    int $VEC_USER_SERVICE
    mov %r12, ring3_r12(%rip)
    int $VEC_USER_EXIT
ring3_done:
    .data
    .balign 8
ring3_cs:  .quad -1
ring3_ss:  .quad -1
ring3_ds:  .quad -1
ring3_es:  .quad -1
ring3_r12: .quad 0
#include "guest_lib.inc"
