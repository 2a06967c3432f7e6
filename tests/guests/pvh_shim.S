/* pvh_shim.S - lets an own-ABI guest (docs/guest-abi.md "popek own-guest ABI") boot on any PVH
 * loader, QEMU's `-kernel` included: linked after the guest by guest64_pvh.ld, it carries the
 * XEN_ELFNOTE_PHYS32_ENTRY note (Xen docs/misc/pvh.pandoc; elfnote.h: type 18, the 8-byte form
 * Linux uses for ELF64) and, from the 32-bit PVH entry state (flat protected mode, paging off,
 * ebx = hvm_start_info, arch-x86/hvm/start_info.h), rebuilds the state popek's own-ABI loader
 * gives vCPU 0 before it jumps to the guest's _start:
 *   boot GDT at 0x1000 (limit 0x2f; TR = 0x20 busy), IDTR 0/0, LDTR unusable;
 *   PML4 0x2000 -> PDPT 0x3000 -> PDs 0x4000-0x7fff: low 4 GiB identity-mapped with 2 MiB pages,
 *   present, writable, user, A/D preset (Intel SDM Vol. 3A 4.5);
 *   CR0 PE MP ET NE PG, CR4 PAE OSFXSR OSXMMEXCPT, EFER LME SCE (LMA), RFLAGS 0x2;
 *   rdi 0, rsi 1 (one vCPU: PVH starts only the BSP), rsp 0x14000, rdx 0x9000 (a copy of the
 *   command line) or 0, rcx/r8 module 0's address and size or 0, every other GPR and XMM 0,
 *   x87 and MXCSR at their reset values.
 * The shim's own code and data sit after the guest image (its .pvhshim.* sections), so the guest's
 * addresses are those of the plain ELF; it runs once and the guest never returns to it. */
#define START_INFO_NR_MODULES 12    /* hvm_start_info: u32 nr_modules */
#define START_INFO_MODLIST 16       /*                 u64 modlist_paddr */
#define START_INFO_CMDLINE 24       /*                 u64 cmdline_paddr */
#define BOOT_GDT 0x1000
#define PML4 0x2000
#define PDPT 0x3000
#define PD0 0x4000
#define CMDLINE 0x9000
#define CMDLINE_MAX 4095
#define STACK_TOP 0x14000           /* vCPU 0: 0x10000 + (0+1) * 0x4000 */

    .section .note.Xen, "a", @note
    .balign 4
    .long 4, 8, 18                  /* namesz, descsz, XEN_ELFNOTE_PHYS32_ENTRY */
    .asciz "Xen"
    .quad pvh_shim_entry

    .section .pvhshim.text, "ax"
    .code32
pvh_shim_entry:
    cld
    mov $shim_stack_top, %esp
    /* Read what hvm_start_info names before anything is written below 1 MiB: a loader may have
     * put the structure, the module list or the command line there. */
    movl $0, shim_initrd
    movl $0, shim_initrd_size
    mov START_INFO_NR_MODULES(%ebx), %ecx
    test %ecx, %ecx
    jz 1f
    mov START_INFO_MODLIST(%ebx), %esi
    mov 0(%esi), %eax               /* hvm_modlist_entry.paddr (below 4 GiB here) */
    mov %eax, shim_initrd
    mov 8(%esi), %eax               /* .size */
    mov %eax, shim_initrd_size
1:  mov START_INFO_CMDLINE(%ebx), %esi
    mov $shim_cmdline, %edi
    xor %edx, %edx                  /* command line length */
    test %esi, %esi
    jz 3f
2:  lodsb
    test %al, %al
    jz 3f
    stosb
    inc %edx
    cmp $CMDLINE_MAX, %edx
    jb 2b
3:  movb $0, (%edi)
    mov %edx, shim_cmdline_len

    /* boot GDT */
    mov $shim_gdt, %esi
    mov $BOOT_GDT, %edi
    mov $12, %ecx
    rep movsl
    /* page tables: PML4[0] -> PDPT, PDPT[0..3] -> PD0..PD3, 2048 PDEs of 2 MiB */
    xor %eax, %eax
    mov $PML4, %edi
    mov $(2 * 1024), %ecx
    rep stosl                       /* zero the PML4 and PDPT pages */
    movl $(PDPT | 0x27), PML4       /* P RW US A */
    mov $PDPT, %edi
    mov $(PD0 | 0x27), %eax
    mov $4, %ecx
4:  mov %eax, (%edi)
    add $0x1000, %eax
    add $8, %edi
    loop 4b
    mov $PD0, %edi
    mov $0xe7, %eax                 /* P RW US A D PS */
    mov $2048, %ecx
5:  mov %eax, (%edi)
    movl $0, 4(%edi)
    add $0x200000, %eax
    add $8, %edi
    loop 5b
    /* the command line where popek puts it */
    mov $shim_cmdline, %esi
    mov $CMDLINE, %edi
    mov shim_cmdline_len, %ecx
    inc %ecx                        /* and its NUL */
    rep movsb

    lgdt shim_gdt_desc
    lidt shim_idt_desc
    mov $0x620, %eax                /* CR4.PAE | OSFXSR | OSXMMEXCPT */
    mov %eax, %cr4
    mov $PML4, %eax
    mov %eax, %cr3
    mov $0xc0000080, %ecx           /* IA32_EFER: LME | SCE */
    rdmsr
    or $0x101, %eax
    wrmsr
    mov $0x80000033, %eax           /* CR0.PG | NE | ET | MP | PE */
    mov %eax, %cr0
    ljmp $0x10, $6f

    .code64
6:  mov $0x18, %eax
    mov %eax, %ds
    mov %eax, %es
    mov %eax, %ss
    mov %eax, %fs
    mov %eax, %gs
    mov $0x20, %eax
    ltr %ax                         /* marks the descriptor busy, as popek hands it over */
    xor %eax, %eax
    lldt %ax
    fninit
    ldmxcsr shim_mxcsr
    pxor %xmm0, %xmm0
    pxor %xmm1, %xmm1
    pxor %xmm2, %xmm2
    pxor %xmm3, %xmm3
    pxor %xmm4, %xmm4
    pxor %xmm5, %xmm5
    pxor %xmm6, %xmm6
    pxor %xmm7, %xmm7
    pxor %xmm8, %xmm8
    pxor %xmm9, %xmm9
    pxor %xmm10, %xmm10
    pxor %xmm11, %xmm11
    pxor %xmm12, %xmm12
    pxor %xmm13, %xmm13
    pxor %xmm14, %xmm14
    pxor %xmm15, %xmm15
    mov $STACK_TOP, %esp
    xor %edx, %edx
    cmpl $0, shim_cmdline_len
    je 7f
    mov $CMDLINE, %edx
7:  mov shim_initrd, %ecx
    mov shim_initrd_size, %r8d
    xor %edi, %edi
    mov $1, %esi
    xor %eax, %eax
    xor %ebx, %ebx
    xor %ebp, %ebp
    xor %r9d, %r9d
    xor %r10d, %r10d
    xor %r11d, %r11d
    xor %r12d, %r12d
    xor %r13d, %r13d
    xor %r14d, %r14d
    xor %r15d, %r15d
    push $2
    popfq                           /* RFLAGS = 0x2, as popek hands it over */
    jmp _start

    .section .pvhshim.rodata, "a"
    .balign 8
shim_gdt:   /* popek's boot GDT (src/arch/x86_64/segments.cpp), the TSS still available (type 9) */
    .quad 0
    .quad 0x00cf9b000000ffff        /* 0x08: 32-bit code */
    .quad 0x00af9b000000ffff        /* 0x10: 64-bit code */
    .quad 0x00cf93000000ffff        /* 0x18: data */
    .quad 0x0000890000000067        /* 0x20: TSS, base 0, limit 0x67 */
    .quad 0
shim_gdt_desc:  .word 0x2f
                .long BOOT_GDT
shim_idt_desc:  .word 0
                .long 0
shim_mxcsr:     .long 0x1f80

    .section .pvhshim.bss, "aw", @nobits
    .balign 16
shim_initrd:      .fill 4, 1, 0
shim_initrd_size: .fill 4, 1, 0
shim_cmdline_len: .fill 4, 1, 0
shim_cmdline:     .fill CMDLINE_MAX + 1, 1, 0
    .balign 16
    .fill 1024, 1, 0
shim_stack_top:
