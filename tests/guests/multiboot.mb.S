/* multiboot.mb.S - a multiboot v1 kernel linked at 0x8000 that prints what popek hands it and what
 * the kvm-unit-tests devices answer, for tests/backend/suite_devices_test.cpp:
 *   "mb: magic 2badb002 flags F lower L upper U"      (the information block's fields, hex)
 *   "mb: cmdline <string>"
 *   "mb: module size S string <string> first XX"       (only with a module)
 *   "mb: mmap entries N ram R"                         (type-1 bytes below 4 GiB)
 *   "acpi: rsdp A"                                     (first "RSD PTR " in 0xe0000-0xfffff)
 *   "fwcfg: QEMU id I cpus C max M ram R unknown X"    (fw_cfg items 0, 1, 5, 0xf, 3, 0x11)
 *   "testdev: e0 V e8 V iomem V irr XX ioapic N"      (only with --test-dev; N: interrupts taken
 *                                                      by the instruction after the IRQ line OUT)
 * then leaves through debug-exit with 0x11 (popek status 35). */
#include "guest.inc"
#define FW_CFG_SELECTOR 0x510
#define FW_CFG_DATA 0x511

    .section .multiboot, "a"
    .balign 4
    .long 0x1BADB002, 0, -0x1BADB002     /* magic, flags (load by ELF headers), checksum */

    .section .text.start, "ax"
    .code32
    .globl _start
_start:
    mov $stack_top, %esp                /* multiboot gives no stack */
    mov %eax, %edi
    mov %ebx, %ebp                      /* multiboot information */
    mov $msg_magic, %esi
    call puts
    mov %edi, %eax
    call puthex32
    mov $msg_flags, %esi
    call puts
    mov 0(%ebp), %eax
    call puthex32
    mov $msg_lower, %esi
    call puts
    mov 4(%ebp), %eax
    call puthex32
    mov $msg_upper, %esi
    call puts
    mov 8(%ebp), %eax
    call puthex32
    mov $msg_cmdline, %esi
    call puts
    mov 16(%ebp), %esi
    call puts
    call newline

    cmpl $0, 20(%ebp)                   /* mods_count */
    je 1f
    mov 24(%ebp), %ebx                  /* mods_addr */
    mov $msg_module, %esi
    call puts
    mov 4(%ebx), %eax                   /* mod_end - mod_start */
    sub 0(%ebx), %eax
    call puthex32
    mov $msg_string, %esi
    call puts
    mov 8(%ebx), %esi
    call puts
    mov $msg_first, %esi
    call puts
    mov 0(%ebx), %eax
    movzbl (%eax), %eax
    call puthex_byte
    call newline
1:
    /* Walk the memory map the way the spec says: next = this + size + 4. */
    mov 48(%ebp), %ebx                  /* mmap_addr */
    mov 44(%ebp), %ecx
    lea (%ebx,%ecx), %ebp               /* end of the map */
    xor %edi, %edi                      /* entries */
    xor %ecx, %ecx                      /* RAM bytes */
2:  cmp %ebp, %ebx
    jae 3f
    inc %edi
    cmpl $1, 20(%ebx)                   /* type */
    jne 4f
    cmpl $0, 8(%ebx)                    /* base above 4 GiB: not counted */
    jne 4f
    add 12(%ebx), %ecx                  /* length, low half */
4:  mov 0(%ebx), %eax
    lea 4(%ebx,%eax), %ebx
    jmp 2b
3:  push %ecx
    mov $msg_mmap, %esi
    call puts
    mov %edi, %eax
    call puthex_byte
    mov $msg_ram, %esi
    call puts
    pop %eax
    call puthex32
    call newline

    /* The RSDP where kvm-unit-tests looks for it. */
    mov $0xe0000, %ebx
5:  cmp $0x100000, %ebx
    jae 6f
    cmpl $0x20445352, 0(%ebx)           /* "RSD " */
    jne 7f
    cmpl $0x20525450, 4(%ebx)           /* "PTR " */
    je 6f
7:  add $16, %ebx
    jmp 5b
6:  mov $msg_rsdp, %esi
    call puts
    mov %ebx, %eax
    call puthex32
    call newline

    /* fw_cfg: a 16-bit selector write, then the item byte by byte. */
    mov $msg_fwcfg, %esi
    call puts
    mov $0x0000, %eax                   /* FW_CFG_SIGNATURE */
    call fw_cfg_u32
    mov $4, %edi
8:  call putc                           /* the signature's bytes, low first */
    shr $8, %eax
    dec %edi
    jnz 8b
    mov $msg_id, %esi
    mov $0x0001, %eax                   /* FW_CFG_ID */
    call fw_cfg_print
    mov $msg_cpus, %esi
    mov $0x0005, %eax                   /* FW_CFG_NB_CPUS */
    call fw_cfg_print
    mov $msg_max, %esi
    mov $0x000f, %eax                   /* FW_CFG_MAX_CPUS */
    call fw_cfg_print
    mov $msg_ram, %esi
    mov $0x0003, %eax                   /* FW_CFG_RAM_SIZE, low half */
    call fw_cfg_print
    mov $msg_unknown, %esi
    mov $0x0011, %eax                   /* not an item popek has: reads as 0 */
    call fw_cfg_print
    call newline

    /* pc-testdev: only with --test-dev (without it the scratch port floats at 0xff). */
    mov $0x12345678, %eax
    outl %eax, $0xe0
    mov $0xab, %al
    outb %al, $0xe9                     /* byte 1 of the register, through the alias */
    inl $0xe0, %eax
    cmp $0x1234ab78, %eax
    jne done
    mov $msg_testdev, %esi
    call puts
    inl $0xe0, %eax
    call puthex32
    mov $msg_e8, %esi
    call puts
    inl $0xe8, %eax
    call puthex32
    mov $msg_iomem, %esi
    call puts
    movl $0xcafef00d, 0xff00fffc        /* last dword of the 64 KiB iomem */
    mov 0xff00fffc, %eax
    add 0xff000000, %eax                /* + first dword, never written: 0 */
    call puthex32
    mov $msg_irr, %esi
    call puts
    mov $0x2005, %dx                    /* ISA IRQ 5 up */
    mov $1, %al
    outb %al, %dx
    mov $0x0a, %al                      /* OCW3: read IRR */
    outb %al, $0x20
    inb $0x20, %al
    movzbl %al, %ebx
    mov $0x2005, %dx                    /* and down again */
    xor %eax, %eax
    outb %al, %dx
    mov %ebx, %eax
    call puthex_byte

    /* The same line through the I/O APIC: pin 14 -> vector 0x76, edge, to APIC 0. The interrupt
     * is taken before the instruction after the OUT that lowers the line (as on KVM and QEMU). */
    mov $0x76, %eax
    mov $irq_handler, %ebx
    mov %bx, idt(,%eax,8)               /* 32-bit interrupt gate: offset, CS 0x08, 0x8e00 */
    movw $0x08, idt+2(,%eax,8)
    movw $0x8e00, idt+4(,%eax,8)
    shr $16, %ebx
    mov %bx, idt+6(,%eax,8)
    lidt idt_descriptor
    movl $0x1ff, 0xfee000f0             /* local APIC on, spurious vector 0xff */
    movl $(0x10 + 2 * 14), 0xfec00000   /* IOREDTBL14 low: vector 0x76, fixed, edge, unmasked */
    movl $0x76, 0xfec00010
    movl $(0x11 + 2 * 14), 0xfec00000   /* high: destination APIC 0 */
    movl $0, 0xfec00010
    sti
    mov $0x200e, %dx
    mov $1, %al
    outb %al, %dx
    xor %eax, %eax
    outb %al, %dx
    mov irq_count, %ebx                 /* read right after the OUT: 1 if the interrupt was taken */
    cli
    mov $msg_ioapic, %esi
    call puts
    mov %ebx, %eax
    call puthex_byte
    call newline
done:
    mov $DEBUG_EXIT, %dx
    mov $0x11, %eax
    outl %eax, %dx
park:
    hlt
    jmp park

irq_handler:
    incl irq_count
    movl $0, 0xfee000b0                 /* EOI */
    iret

/* fw_cfg_u32: eax = item; returns its first four bytes (little-endian) in eax */
fw_cfg_u32:
    push %ecx
    push %ebx
    mov $FW_CFG_SELECTOR, %dx
    outw %ax, %dx
    mov $FW_CFG_DATA, %dx
    xor %ebx, %ebx
    mov $4, %ecx
1:  inb %dx, %al
    movzbl %al, %eax
    shl $24, %eax
    shr $8, %ebx
    or %eax, %ebx
    loop 1b
    mov %ebx, %eax
    pop %ebx
    pop %ecx
    ret
/* fw_cfg_print: esi = label, eax = item; prints the label and the item's first four bytes */
fw_cfg_print:
    push %eax
    call puts
    pop %eax
    call fw_cfg_u32
    jmp puthex32
newline:
    mov $'\n', %al
    jmp putc

#include "guest32_lib.inc"

msg_magic:   .asciz "mb: magic "
msg_flags:   .asciz " flags "
msg_lower:   .asciz " lower "
msg_upper:   .asciz " upper "
msg_cmdline: .asciz "\nmb: cmdline "
msg_module:  .asciz "mb: module size "
msg_string:  .asciz " string "
msg_first:   .asciz " first "
msg_mmap:    .asciz "mb: mmap entries "
msg_ram:     .asciz " ram "
msg_rsdp:    .asciz "acpi: rsdp "
msg_fwcfg:   .asciz "fwcfg: "
msg_id:      .asciz " id "
msg_cpus:    .asciz " cpus "
msg_max:     .asciz " max "
msg_unknown: .asciz " unknown "
msg_testdev: .asciz "testdev: e0 "
msg_e8:      .asciz " e8 "
msg_iomem:   .asciz " iomem "
msg_irr:     .asciz " irr "
msg_ioapic:  .asciz " ioapic "
    .balign 8
idt_descriptor:
    .word 256 * 8 - 1
    .long idt

    .bss
    .balign 16
irq_count:
    .long 0
    .balign 8
idt:
    .skip 256 * 8
    .skip 1024
stack_top:
