/* fault_pk.S - #PF from protection keys for user-mode pages (SDM Vol. 3A 4.6.2: CR4.PKE, PKRU,
 * the key in bits 62:59 of the PTE) and the PK error-code bit (4.7, bit 5): AD forbids every
 * data access, WD writes at ring 3 and, with CR0.WP = 1, at ring 0; RDPKRU/WRPKRU and their
 * #GP. Every page of this guest is user-mode (cpu.inc), so SMAP is tested elsewhere
 * (tests/unit/emu_smap_pku_test.cpp). PAGE_NO_EXEC (user, RW, XD) gets key 1. */
#include "guest.inc"
#include "cpu.inc"
#include "fault.inc"
.macro SET_PKRU value
    mov $\value, %eax
    xor %ecx, %ecx
    xor %edx, %edx
    wrpkru
.endm
    FAULT_GUEST_START "fault class #PF protection keys"
    movabs $(1 << 59), %rax
    or %rax, pt+3*8(%rip)           /* PAGE_NO_EXEC: key 1 */
    mov %cr4, %rax
    or $(1 << 22), %rax             /* CR4.PKE */
    mov %rax, %cr4
    mov %cr3, %rax
    mov %rax, %cr3
    SET_PKRU 0x4                    /* AD1 */
    mov $PAGE_NO_EXEC + 0x10, %rbx
    KFAULT "#PF PKRU.AD ring0 read", 14, 0x21, PAGE_NO_EXEC+0x10, 0, mov (%rbx), %rcx
    UFAULT "#PF PKRU.AD ring3 read", 14, 0x25, PAGE_NO_EXEC+0x10, 0, mov (%rbx), %rcx
    SET_PKRU 0x8                    /* WD1 */
    KFAULT "#PF PKRU.WD ring0 write (CR0.WP)", 14, 0x23, PAGE_NO_EXEC+0x10, 0, movq $1, (%rbx)
    UFAULT "#PF PKRU.WD ring3 write", 14, 0x27, PAGE_NO_EXEC+0x10, 0, movq $1, (%rbx)
    mov $1, %ecx
    KFAULT "#GP rdpkru with ecx != 0", 13, 0, 0, 0, rdpkru
    xor %ecx, %ecx
    rdpkru
    CHECK "rdpkru reads WD1", %rax, $8, 2
    mov (%rbx), %rax                /* WD: reads still pass */
    SET_PKRU 0
    movq $0x55, (%rbx)
    mov (%rbx), %rax
    CHECK "write with PKRU 0", %rax, $0x55, 2
    call guest_finish
#include "guest_lib.inc"
