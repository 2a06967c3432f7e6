/* boot_info.pvh.S - checks what popek's PVH loader hands over (Xen docs/misc/pvh.pandoc) and
 * prints it on COM1 for tests/backend/loader_boot_test.cpp:
 *   "pvh: magic ok version 1 memmap N modules M cs 8 cr0 11"
 *   "pvh: cmdline <string>"
 *   "pvh: module0 size XXXXXXXX first XX"   (when a module is given)
 * then exits through debug-exit with 0x11 (popek status 35), or 0x3e on a bad magic. */
#include "guest.inc"
#include "pvh32.inc"
PVH_ENTRY
    mov $stack_top, %esp        /* PVH gives no stack */
    mov %ebx, %ebp              /* hvm_start_info */
    cmpl $0x336ec578, 0(%ebp)   /* XEN_HVM_START_MAGIC_VALUE */
    jne bad_magic
    mov $msg_magic, %esi
    call puts
    mov 4(%ebp), %eax           /* version */
    call puthex_byte
    mov $msg_memmap, %esi
    call puts
    mov 48(%ebp), %eax          /* memmap_entries */
    call puthex_byte
    mov $msg_modules, %esi
    call puts
    mov 12(%ebp), %eax          /* nr_modules */
    call puthex_byte
    mov $msg_cs, %esi
    call puts
    mov %cs, %eax
    call puthex_byte
    mov $msg_cr0, %esi
    call puts
    mov %cr0, %eax
    call puthex_byte
    mov $msg_cmdline, %esi
    call puts
    mov 24(%ebp), %esi          /* cmdline_paddr (low half) */
    call puts
    mov $'\n', %al
    call putc
    cmpl $0, 12(%ebp)
    je done
    mov $msg_module, %esi
    call puts
    mov 16(%ebp), %edi          /* modlist_paddr */
    mov 8(%edi), %eax           /* size (low half) */
    call puthex32
    mov $msg_first, %esi
    call puts
    mov 0(%edi), %ebx           /* paddr (low half) */
    movzbl (%ebx), %eax
    call puthex_byte
    mov $'\n', %al
    call putc
done:
    mov $DEBUG_EXIT, %dx
    mov $0x11, %eax
    outl %eax, %dx
    jmp park
bad_magic:
    mov $DEBUG_EXIT, %dx
    mov $0x3e, %eax
    outl %eax, %dx
park:
    hlt
    jmp park

#include "guest32_lib.inc"

msg_magic:   .asciz "pvh: magic ok version "
msg_memmap:  .asciz " memmap "
msg_modules: .asciz " modules "
msg_cs:      .asciz " cs "
msg_cr0:     .asciz " cr0 "
msg_cmdline: .asciz "\npvh: cmdline "
msg_module:  .asciz "pvh: module0 size "
msg_first:   .asciz " first "

    .bss
    .balign 16
    .skip 1024
stack_top:
