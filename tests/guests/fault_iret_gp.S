/* fault_iret_gp.S - IRETQ that must fault (IRET in SDM Vol. 2A): a data segment as the return
 * CS is #GP(CS), a ring-3 return whose SS has RPL 0 is #GP(SS), a non-canonical return RIP is
 * #GP(0); the fault is raised at the IRETQ, in ring 0, with the frame still on the stack. */
#include "guest.inc"
#include "cpu.inc"
#include "fault.inc"
/* push an IRETQ frame: ss, rsp (the current one), rflags, cs, rip */
.macro IRET_FRAME ss, rflags, cs, rip
    pushq $\ss
    push %rsp
    pushq $\rflags
    pushq $\cs
    mov \rip, %rax
    push %rax
.endm
    FAULT_GUEST_START "fault class IRET #GP"
    lea user_target(%rip), %rbx
    IRET_FRAME KERNEL_DS, 0x2, KERNEL_DS, %rbx
    KFAULT "IRETQ to a data segment as CS", 13, KERNEL_DS, 0, 0, iretq
    add $40, %rsp
    IRET_FRAME KERNEL_DS, 0x202, USER_CS, %rbx
    KFAULT "IRETQ to ring3 with SS RPL 0", 13, KERNEL_DS, 0, 0, iretq
    add $40, %rsp
    mov $0x0000800000000000, %rbx
    IRET_FRAME KERNEL_DS, 0x2, KERNEL_CS, %rbx
    KFAULT "IRETQ to a non-canonical RIP", 13, 0, 0, 0, iretq
    add $40, %rsp
    call guest_finish
    .section .text.user, "ax"
user_target:
    USER_EXIT
#include "guest_lib.inc"
