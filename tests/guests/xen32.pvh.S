/* xen32.pvh.S - a 32-bit PVH guest for `--xen` (tests/backend/xen32_test.cpp): it stays in 32-bit
 * protected mode, so its hypercalls use Xen's 32-bit ABI (ebx ecx edx esi edi, result in eax) and
 * the compat structure layouts. It prints on COM1
 *   "xen32: console_io rc R"                    (CONSOLEIO_write of the next line)
 *   "xen32: console pfn P evtchn E"             (HVMOP_get_param)
 *   "xen32: add_to_physmap rc R"                (shared_info, 32-bit struct xen_add_to_physmap)
 *   "xen32: enosys R"                           (an unknown hypercall: -ENOSYS in eax)
 * writes "xen32: both consoles" through CONSOLEIO_write and the console ring, and ends with
 * `cli; hlt` (Xen ends a domain whose every vCPU is halted with interrupts off). */
#include "guest.inc"
#include "pvh32.inc"
#define HYPERCALL(nr) hypercall_page + nr * 32
#define XEN_HYPERCALL_MSR 0x40000000
#define DOMID_SELF 0x7ff0

PVH_ENTRY
    mov $stack_top, %esp
    mov $XEN_HYPERCALL_MSR, %ecx           /* install the hypercall page */
    mov $hypercall_page, %eax
    xor %edx, %edx
    wrmsr

    mov $0, %ebx                           /* console_io(CONSOLEIO_write, len, msg) */
    mov $(msg_hello_end - msg_hello), %ecx
    mov $msg_hello, %edx
    call HYPERCALL(18)
    mov $msg_console_rc, %esi
    call print_eax_line

    mov $1, %ebx                           /* hvm_op(HVMOP_get_param, &param) */
    movl $17, param_index                  /* HVM_PARAM_CONSOLE_PFN */
    mov $param, %ecx
    call HYPERCALL(34)
    mov param_value, %eax
    mov %eax, console_pfn
    movl $18, param_index                  /* HVM_PARAM_CONSOLE_EVTCHN */
    call HYPERCALL(34)
    mov param_value, %eax
    mov %eax, console_evtchn
    mov $msg_pfn, %esi
    call puts
    mov console_pfn, %eax
    call puthex32
    mov $msg_evtchn, %esi
    call puts
    mov console_evtchn, %eax
    call puthex32
    call newline

    mov $7, %ebx                           /* memory_op(XENMEM_add_to_physmap, &xatp) */
    mov $xatp, %ecx
    mov $shared_info, %eax
    shr $12, %eax
    mov %eax, xatp_gpfn
    call HYPERCALL(12)
    mov $msg_physmap_rc, %esi
    call print_eax_line

    call HYPERCALL(60)                     /* no such hypercall */
    mov $msg_enosys, %esi
    call print_eax_line

    /* The same line through both consoles, as XTF's printk writes every line. */
    mov $0, %ebx
    mov $(msg_both_end - msg_both), %ecx
    mov $msg_both, %edx
    call HYPERCALL(18)
    mov console_pfn, %ebx
    shl $12, %ebx                          /* struct xencons_interface */
    mov 3084(%ebx), %edi                   /* out_prod */
    mov $msg_both, %esi
    mov $(msg_both_end - msg_both), %ecx
1:  mov %edi, %eax
    and $2047, %eax
    movb (%esi), %dl
    movb %dl, 1024(%ebx,%eax)              /* out[prod & 2047] */
    inc %esi
    inc %edi
    loop 1b
    mov %edi, 3084(%ebx)
    mov console_evtchn, %eax               /* event_channel_op(EVTCHNOP_send, &port) */
    mov %eax, send_port
    mov $4, %ebx
    mov $send_port, %ecx
    call HYPERCALL(32)
    mov console_pfn, %ebx
    shl $12, %ebx
2:  mov 3080(%ebx), %eax                   /* wait until the back end consumed it */
    cmp 3084(%ebx), %eax
    jne 2b

    mov $msg_halting, %esi
    call puts
    cli
3:  hlt
    jmp 3b

/* print_eax_line: esi = label; prints it, eax in hex, a newline */
print_eax_line:
    push %eax
    call puts
    pop %eax
    call puthex32
newline:
    mov $'\n', %al
    jmp putc

#include "guest32_lib.inc"

msg_hello:      .ascii "xen32: hello through console_io\n"
msg_hello_end:
msg_both:       .ascii "xen32: both consoles\n"
msg_both_end:
msg_console_rc: .asciz "xen32: console_io rc "
msg_pfn:        .asciz "xen32: console pfn "
msg_evtchn:     .asciz " evtchn "
msg_physmap_rc: .asciz "xen32: add_to_physmap rc "
msg_enosys:     .asciz "xen32: enosys "
msg_halting:    .asciz "xen32: cli; hlt\n"

    .data
    .balign 8
param:                                     /* struct xen_hvm_param: same in both ABIs */
    .word DOMID_SELF, 0
param_index:
    .long 0
param_value:
    .quad 0
xatp:                                      /* struct xen_add_to_physmap, 32-bit layout */
    .word DOMID_SELF, 0                    /* domid, size */
    .long 0                                /* space: XENMAPSPACE_shared_info */
    .long 0                                /* idx */
xatp_gpfn:
    .long 0
send_port:
    .long 0
console_pfn:
    .long 0
console_evtchn:
    .long 0

    .bss
    .balign 4096
hypercall_page:
    .skip 4096
shared_info:
    .skip 4096
    .skip 1024
stack_top:
