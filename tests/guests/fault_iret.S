/* fault_iret.S - IRETQ to ring 3 and back (SDM Vol. 3A 6.14, IRET in Vol. 2A): call_user's IRETQ
 * enters ring 3; the exception that brings it back leaves a frame with ring 3's CS, SS, RSP, RIP
 * and RFLAGS (RF set, since #UD is a fault: SDM Vol. 3A 17.3.1.1); #BP from ring 3 served by an
 * IRETQ straight back to ring 3 keeps every register. Bad IRETQs are in fault_iret_gp.S. */
#include "guest.inc"
#include "cpu.inc"
#include "fault.inc"
    FAULT_GUEST_START "fault class IRET"
    UFAULT "IRETQ to ring3, UD2 back", 6, 0, 0, 1, nop
    lea user_stack_top(%rip), %rax
    CHECK "frame rsp = user stack top", fault_rsp(%rip), %rax
    CHECK "frame ss", fault_ss(%rip), $USER_DS, 4
    CHECK "frame rflags (RF IF, IOPL 0)", fault_rflags(%rip), $0x10202, 8

    movl $0, user_service_calls(%rip)
    movl $1, user_bp_resumes(%rip)
    lea ring3_program(%rip), %rdi
    call call_user
    movl $0, user_bp_resumes(%rip)
    CHECK "INT3 served, IRETQ to ring3", user_service_calls(%rip), $2, 2
    mov $0x0123456789abcdef, %rdx
    CHECK "r12 across INT3/IRETQ", ring3_r12(%rip), %rdx
    CHECK "ring3 left with #UD", fault_vector(%rip), $6, 2
    lea ring3_done(%rip), %rax
    CHECK "ring3 ran to its end", fault_rip(%rip), %rax
    CHECK "ring3 frame cs", fault_cs(%rip), $USER_CS, 4
    call guest_finish

/* ring 3: two #BP service calls, then leave */
    .section .text.user, "ax"
ring3_program:
    mov $0x0123456789abcdef, %r12
    int3
    int3
    mov %r12, ring3_r12(%rip)
ring3_done:
    USER_EXIT
    .data
    .balign 8
ring3_r12: .quad 0
#include "guest_lib.inc"
