/* rr_timer.S - a guest whose output depends on when interrupts arrive, for record/replay
 * (docs/record-replay.md). It runs the x2APIC timer periodically (SDM Vol. 3A 10.5.4, 10.12:
 * LVT timer MSR 0x832, initial count 0x838, divide 0x83e, EOI 0x80b, SVR 0x80f) on vector 0x40
 * while a loop counts in memory, reads the TSC and RDRAND and sometimes halts until the next
 * tick; it reads the CMOS RTC's seconds (a device read on host time) too. The handler samples the loop counter at each tick. It prints, for TICKS ticks, the
 * counter seen by the handler, then a fold of every TSC, RDRAND and RTC value read, and exits through
 * debug-exit with value 0 (popek status 1). Two normal runs print different numbers; a replay
 * prints the recording's. */
#include "guest.inc"
#define TICKS 24
#define VECTOR 0x40
#define PERIOD 200000             /* APIC timer counts (divide by 1) */
    .section .text.start, "ax"
    .code64
    .globl _start
_start:
    PARK_OTHER_VCPUS
    PRINT "rr_timer: start\n"
    /* IDT gate VECTOR -> timer_isr: 64-bit interrupt gate, DPL0 (SDM Vol. 3A 6.14.1) */
    lea timer_isr(%rip), %rax
    mov %cs, %ecx
    movzwl %cx, %ecx
    lea idt + VECTOR * 16(%rip), %rdi
    mov %ax, (%rdi)
    mov %cx, 2(%rdi)
    movw $0x8e00, 4(%rdi)
    shr $16, %rax
    mov %ax, 6(%rdi)
    shr $16, %rax
    mov %eax, 8(%rdi)
    movl $0, 12(%rdi)
    lidt idt_pointer(%rip)
    /* x2APIC on: IA32_APIC_BASE (0x1b) EN | EXTD */
    mov $0x1b, %ecx
    rdmsr
    or $0xc00, %eax
    wrmsr
    xor %edx, %edx
    mov $0x80f, %ecx
    mov $0x1ff, %eax              /* SVR: APIC software enable, spurious vector 0xff */
    wrmsr
    mov $0x83e, %ecx
    mov $0xb, %eax                /* divide by 1 */
    wrmsr
    mov $0x832, %ecx
    mov $(VECTOR | (1 << 17)), %eax   /* periodic */
    wrmsr
    mov $0x838, %ecx
    mov $PERIOD, %eax
    wrmsr
    xor %r13d, %r13d              /* fold of TSC and RDRAND values */
    sti
work:
    incq counter(%rip)
    mov counter(%rip), %rax
    test $0xff, %al
    jnz 2f
    rdtsc
    shl $32, %rdx
    or %rdx, %rax
    rol $7, %r13
    xor %rax, %r13
    rdrand %rax
    jnc 2f
    rol $13, %r13
    xor %rax, %r13
2:  mov counter(%rip), %rax
    test $0x1ff, %eax             /* now and then: a device read (CMOS RTC seconds, host time) */
    jnz 5f
    xor %eax, %eax
    outb %al, $0x70
    inb $0x71, %al
    rol $3, %r13
    xor %rax, %r13
    mov counter(%rip), %rax
5:  test $0xffff, %eax            /* now and then: wait for the next tick */
    jnz 3f
    hlt
3:  cmpq $TICKS, ticks(%rip)
    jb work
    cli
    mov $0x832, %ecx
    mov $(1 << 16), %eax          /* LVT timer masked */
    xor %edx, %edx
    wrmsr
    xor %ebx, %ebx
4:  PRINT "tick "
    PUT_DEC %rbx
    PRINT " counter="
    lea samples(%rip), %rax
    mov (%rax,%rbx,8), %rax
    PUT_DEC %rax
    PRINT "\n"
    inc %rbx
    cmp $TICKS, %rbx
    jb 4b
    PRINT "fold="
    PUT_HEX %r13, 16
    PRINT "\nrr_timer: done\n"
    EXIT 0
    jmp guest_park

timer_isr:
    push %rax
    push %rcx
    push %rdx
    mov ticks(%rip), %rcx
    cmp $TICKS, %rcx
    jae 1f
    mov counter(%rip), %rax
    lea samples(%rip), %rdx
    mov %rax, (%rdx,%rcx,8)
    incq ticks(%rip)
1:  mov $0x80b, %ecx              /* EOI */
    xor %eax, %eax
    xor %edx, %edx
    wrmsr
    pop %rdx
    pop %rcx
    pop %rax
    iretq

    .data
    .balign 16
idt_pointer:
    .word 256 * 16 - 1
    .quad idt
    .balign 16
idt:        .fill 512, 8, 0
counter:    .quad 0
ticks:      .quad 0
samples:    .fill TICKS, 8, 0

#include "guest_lib.inc"
