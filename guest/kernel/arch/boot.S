/* PVH entry of popek-os (Xen public arch-x86/hvm/start_info.h, "PVH boot protocol").
 *
 * Entered in 32-bit protected mode, paging off, flat segments, ebx = physical address of the
 * struct hvm_start_info. This file runs at its physical address (section .boot, linked at
 * 1 MiB): it builds the boot page tables, enables long mode and jumps to the higher half.
 *
 * Layout after boot (docs/guest-os.md "Memory layout"):
 *   0x0000_0000_0000_0000 + phys   identity map of the first 4 GiB (boot only; user space later)
 *   0xffff_8000_0000_0000 + phys   direct map of the first 4 GiB (3-4 GiB uncached: LAPIC, IOAPIC)
 *   0xffff_ffff_8000_0000 + phys   the kernel image (-mcmodel=kernel)
 * 2 MiB pages throughout (SDM Vol. 3A 4.5, table 4-17 PDE mapping a 2 MiB page). */
#include "long_mode.h"

#define PTE_P 0x1
#define PTE_W 0x2
#define PTE_PS 0x80
#define PTE_PWT 0x8
#define PTE_PCD 0x10

        .section .note.Xen, "a", @note
        .balign 4
        .long 4                 /* namesz */
        .long 4                 /* descsz */
        .long 18                /* XEN_ELFNOTE_PHYS32_ENTRY (xen/include/public/elfnote.h) */
        .asciz "Xen"
        .long pvh_start

        .section .boot.text, "ax"
        .code32
        .globl pvh_start
pvh_start:
        cli
        cld
        mov $boot_stack_top, %esp

        /* PML4[0] and PML4[256] share one PDPT (identity + direct map); PML4[511] -> high PDPT. */
        mov $boot_pdpt_low + (PTE_P | PTE_W), %eax
        mov %eax, boot_pml4
        mov %eax, boot_pml4 + 256 * 8
        mov $boot_pdpt_high + (PTE_P | PTE_W), %eax
        mov %eax, boot_pml4 + 511 * 8

        /* PDPT low: 4 page directories = 4 GiB. PDPT high[510]: the first PD (kernel at -2 GiB). */
        mov $boot_pd + (PTE_P | PTE_W), %eax
        mov %eax, boot_pdpt_high + 510 * 8
        xor %ecx, %ecx
1:      mov %eax, boot_pdpt_low(, %ecx, 8)
        add $4096, %eax
        inc %ecx
        cmp $4, %ecx
        jb 1b

        /* 2048 PDEs of 2 MiB; the last GiB (MMIO: IOAPIC, LAPIC) uncached. */
        xor %ecx, %ecx
2:      mov %ecx, %eax
        shl $21, %eax
        or $(PTE_P | PTE_W | PTE_PS), %eax
        cmp $1536, %ecx
        jb 3f
        or $(PTE_PCD | PTE_PWT), %eax
3:      mov %eax, boot_pd(, %ecx, 8)
        inc %ecx
        cmp $2048, %ecx
        jb 2b

        ENABLE_LONG_MODE $boot_pml4   /* arch/long_mode.h */

        lgdt boot_gdt_ptr
        ljmp $0x08, $long_mode_entry

        .code64
long_mode_entry:
        LOAD_KERNEL_DATA_SEGMENTS
        movabs $boot_kernel_stack_top, %rsp
        mov %ebx, %edi          /* start info (physical), zero-extended */
        movabs $kernel_main, %rax
        call *%rax
4:      cli
        hlt
        jmp 4b

        .section .boot.data, "aw"
        .balign 16
boot_gdt:
        .quad 0
        .quad 0x00af9a000000ffff        /* 0x08: 64-bit code, DPL 0 */
        .quad 0x00cf92000000ffff        /* 0x10: data, DPL 0 */
boot_gdt_end:
boot_gdt_ptr:
        .word boot_gdt_end - boot_gdt - 1
        .long boot_gdt

        .section .boot.bss, "aw", @nobits
        .balign 4096
        .globl boot_pml4
boot_pml4:      .skip 4096
boot_pdpt_low:  .skip 4096
boot_pdpt_high: .skip 4096
boot_pd:        .skip 4 * 4096
boot_stack:     .skip 1024
boot_stack_top:

        .section .bss
        .balign 16
boot_kernel_stack:
        .skip 16384
        .globl boot_kernel_stack_top
boot_kernel_stack_top:

        .section .note.GNU-stack, "", @progbits
