/* fault_pf.S - #PF (vector 14): every error-code bit (SDM Vol. 3A 4.7: P=1, W/R=2, U/S=4,
 * RSVD=8, I/D=16), CR2 = the faulting linear address, and the A/D bits the walk sets.
 * Pages: see cpu.inc (not present, kernel read-only with CR0.WP, kernel RW, user NX, user RO,
 * and a 2 MiB PDE with a reserved bit). */
#include "guest.inc"
#include "cpu.inc"
#include "fault.inc"
    FAULT_GUEST_START "fault class #PF"
    mov $PAGE_NOT_PRESENT, %rbx
    KFAULT "#PF read not present", 14, 0x0, PAGE_NOT_PRESENT, 0, mov (%rbx), %rcx
    KFAULT "#PF write not present", 14, 0x2, PAGE_NOT_PRESENT, 0, movl $1, (%rbx)
    mov $PAGE_NOT_PRESENT - 4, %rbx
    KFAULT "#PF read split into not present", 14, 0x0, PAGE_NOT_PRESENT, 0, mov (%rbx), %rcx
    mov $PAGE_KERNEL_RO + 8, %rbx
    KFAULT "#PF write read-only (CR0.WP)", 14, 0x3, PAGE_KERNEL_RO+8, 0, movq $1, (%rbx)
    mov $PAGE_RESERVED_BIT + 0x10, %rbx
    KFAULT "#PF reserved bit in PDE", 14, 0x9, PAGE_RESERVED_BIT+0x10, 0, mov (%rbx), %rcx
    mov $PAGE_NO_EXEC, %rbx
    KFAULT_AT "#PF fetch from NX page", 14, 0x11, PAGE_NO_EXEC, 0, PAGE_NO_EXEC, jmp *%rbx

    mov $PAGE_KERNEL_RW, %rbx
    UFAULT "#PF ring3 read supervisor page", 14, 0x5, PAGE_KERNEL_RW, 0, mov (%rbx), %rcx
    mov $PAGE_KERNEL_RO, %rbx
    UFAULT "#PF ring3 write supervisor RO page", 14, 0x7, PAGE_KERNEL_RO, 0, movb $1, (%rbx)
    mov $PAGE_USER_RO + 0x20, %rbx
    UFAULT "#PF ring3 write user RO page", 14, 0x7, PAGE_USER_RO+0x20, 0, movq $1, (%rbx)
    mov $PAGE_NOT_PRESENT + 0x30, %rbx
    UFAULT "#PF ring3 read not present", 14, 0x4, PAGE_NOT_PRESENT+0x30, 0, mov (%rbx), %rcx
    UFAULT "#PF ring3 write not present", 14, 0x6, PAGE_NOT_PRESENT+0x30, 0, movb $1, (%rbx)
    mov $PAGE_RESERVED_BIT, %rbx
    UFAULT "#PF ring3 reserved bit in PDE", 14, 0xd, PAGE_RESERVED_BIT, 0, mov (%rbx), %rcx
    mov $PAGE_NO_EXEC, %rbx
    UFAULT_AT "#PF ring3 fetch from NX page", 14, 0x15, PAGE_NO_EXEC, 0, PAGE_NO_EXEC, jmp *%rbx

    /* Accessed and dirty bits (SDM Vol. 3A 4.8): a write sets A and D, a read only A. */
    andq $~0x60, pt+2*8(%rip)
    andq $~0x60, pt+4*8(%rip)
    mov %cr3, %rax
    mov %rax, %cr3                  /* flush the TLB so the next accesses walk the tables */
    movq $0x1234, PAGE_KERNEL_RW
    mov PAGE_KERNEL_RW, %rax
    CHECK "read back kernel RW page", %rax, $0x1234, 4
    mov PAGE_USER_RO, %rax
    mov pt+2*8(%rip), %rax
    and $0x60, %eax
    CHECK "PTE A|D after write", %rax, $0x60, 2
    mov pt+4*8(%rip), %rax
    and $0x60, %eax
    CHECK "PTE A only after read", %rax, $0x20, 2
    call guest_finish
#include "guest_lib.inc"
