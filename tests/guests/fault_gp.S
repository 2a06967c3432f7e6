/* fault_gp.S - #GP (vector 13, with an error code) and #SS (12): selector loads that must fail
 * (error code = the selector without its RPL bits), non-canonical addresses (error code 0), and
 * privileged instructions in ring 3 (error code 0). */
#include "guest.inc"
#include "cpu.inc"
#include "fault.inc"
    FAULT_GUEST_START "fault class #GP"
    mov $0x1000, %ecx
    KFAULT "#GP ds <- past the GDT limit", 13, 0x1000, 0, 0, mov %ecx, %ds
    mov $TSS_SEL, %ecx
    KFAULT "#GP ds <- TSS selector", 13, TSS_SEL, 0, 0, mov %ecx, %ds
    mov $KERNEL_CS, %ecx
    KFAULT "#GP ss <- code selector", 13, KERNEL_CS, 0, 0, mov %ecx, %ss
    mov $KERNEL_DS | 3, %ecx
    KFAULT "#GP ss <- RPL 3 at CPL 0", 13, KERNEL_DS, 0, 0, mov %ecx, %ss
    mov $0x0000800000000000, %rcx
    KFAULT "#GP non-canonical load", 13, 0, 0, 0, mov (%rcx), %rdx
    mov $0xffff7fffffffff00, %rcx
    KFAULT "#GP non-canonical store", 13, 0, 0, 0, movb $1, (%rcx)
    push %rbp
    mov $0x0000800000000000, %rbp
    KFAULT "#SS non-canonical via rbp", 12, 0, 0, 0, mov (%rbp), %rdx
    pop %rbp
    UFAULT "#GP ring3 cli", 13, 0, 0, 0, cli
    UFAULT "#GP ring3 hlt", 13, 0, 0, 0, hlt
    UFAULT "#GP ring3 mov from cr0", 13, 0, 0, 0, mov %cr0, %rdx
    UFAULT "#GP ring3 lgdt", 13, 0, 0, 0, lgdt gdt_pointer(%rip)
    UFAULT "#GP ring3 wrmsr", 13, 0, 0, 0, wrmsr
    UFAULT "#GP ring3 out 0x80 (not in bitmap)", 13, 0, 0, 0, outb %al, $0x80
    mov $0x400, %edx
    UFAULT "#GP ring3 in 0x400 (past bitmap)", 13, 0, 0, 0, inb %dx, %al
    mov $0x1000, %ecx
    UFAULT "#GP ring3 ds <- past the GDT limit", 13, 0x1000, 0, 0, mov %ecx, %ds
    mov $KERNEL_DS, %ecx
    UFAULT "#GP ring3 ds <- DPL 0 data", 13, KERNEL_DS, 0, 0, mov %ecx, %ds
    call guest_finish
#include "guest_lib.inc"
