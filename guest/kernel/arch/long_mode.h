/* Assembler macro shared by the boot CPU's entry (boot.S) and the APs' trampoline
 * (ap_trampoline.S): from protected mode with paging off to IA-32e mode on the page tables at
 * CR3 (SDM Vol. 3A 9.8.5 "Initializing IA-32e Mode"). The far jump that follows is the caller's.
 *   CR4: PAE | PGE | OSFXSR | OSXMMEXCPT (SDM Vol. 3A 2.5)
 *   EFER: LME | SCE (SDM Vol. 3A 2.2.1)
 *   CR0: PG | WP | NE | MP | PE; EM and TS clear so SSE works in ring 3. */
#pragma once

.macro ENABLE_LONG_MODE cr3_source
        mov $0x6a0, %eax
        mov %eax, %cr4
        mov \cr3_source, %eax
        mov %eax, %cr3
        mov $0xc0000080, %ecx
        rdmsr
        or $0x101, %eax
        wrmsr
        mov %cr0, %eax
        and $~0xc, %eax
        or $0x80010023, %eax
        mov %eax, %cr0
.endm

/* In 64-bit code: the data segments from the boot GDT's kernel data selector 0x10, FS and GS
 * null (their bases are set through MSRs later). */
.macro LOAD_KERNEL_DATA_SEGMENTS
        mov $0x10, %eax
        mov %eax, %ds
        mov %eax, %es
        mov %eax, %ss
        xor %eax, %eax
        mov %eax, %fs
        mov %eax, %gs
.endm
