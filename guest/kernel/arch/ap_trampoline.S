/* Application processor start (docs/guest-os.md "SMP"). arch/smp.cpp copies this code to the
 * physical page kApTrampoline (below 1 MiB) and sends INIT-SIPI-SIPI with that page number as the
 * vector (SDM Vol. 3A 8.4.4.1): the AP starts here in real mode at CS = page << 8, IP = 0. It
 * goes through 32-bit protected mode to long mode on the kernel's boot page tables (their
 * identity map covers this page) and jumps to ap_entry(arg) in the higher half on the stack the
 * parameter block names. Addresses below are the page's physical ones: T(label). */
#include "long_mode.h"

#define AP_TRAMPOLINE 0xa000
#define T(label) (label - ap_trampoline_start + AP_TRAMPOLINE)

        .section .rodata
        .balign 16
        .globl ap_trampoline_start, ap_trampoline_end, ap_trampoline_params
        .code16
ap_trampoline_start:
        cli
        cld
        xor %ax, %ax
        mov %ax, %ds
        movl $1, T(ap_started)          /* the BSP sees the AP running (no second SIPI) */
        lgdtl T(ap_gdt_ptr)
        mov %cr0, %eax
        or $1, %eax                     /* PE */
        mov %eax, %cr0
        ljmpl $0x08, $T(ap_protected)

        .code32
ap_protected:
        mov $0x10, %eax
        mov %eax, %ds
        mov %eax, %es
        mov %eax, %ss
        ENABLE_LONG_MODE T(ap_cr3)   /* arch/long_mode.h */
        ljmp $0x18, $T(ap_long)

        .code64
ap_long:
        LOAD_KERNEL_DATA_SEGMENTS
        mov T(ap_stack), %rsp
        mov T(ap_arg), %rdi
        mov T(ap_entry), %rax
        call *%rax                      /* never returns */
1:      cli
        hlt
        jmp 1b

        .balign 8
ap_gdt:
        .quad 0
        .quad 0x00cf9a000000ffff        /* 0x08: 32-bit code */
        .quad 0x00cf92000000ffff        /* 0x10: data */
        .quad 0x00af9a000000ffff        /* 0x18: 64-bit code */
ap_gdt_ptr:
        .word ap_gdt_ptr - ap_gdt - 1
        .long T(ap_gdt)

        /* struct ApTrampolineParams (arch/smp.cpp): filled in before each SIPI. */
        .balign 8
ap_trampoline_params:
ap_cr3:         .quad 0
ap_stack:       .quad 0
ap_entry:       .quad 0
ap_arg:         .quad 0
ap_started:     .long 0
                .long 0
ap_trampoline_end:

        .section .note.GNU-stack, "", @progbits
