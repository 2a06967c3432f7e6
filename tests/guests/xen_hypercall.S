/* xen_hypercall.S - the Xen personality seen from a guest (run with popek --xen):
 * finds "XenVMMXenVMM" at CPUID 0x40000000, reads the hypercall MSR from leaf 0x40000002,
 * installs the hypercall page by writing that MSR, then calls through the page:
 *   xen_version(XENVER_version)   -> (major << 16) | minor
 *   hypercall 63 (not in Xen)     -> -ENOSYS
 * and prints the results; exits with the failure count. */
#include "guest.inc"
    .section .text.start, "ax"
    .code64
    .globl _start
_start:
    PARK_OTHER_VCPUS
    mov $0x40000000, %eax
    cpuid
    CHECK "sig-ebx", %rbx, $0x566e6558, 8
    CHECK "sig-ecx", %rcx, $0x65584d4d, 8
    CHECK "sig-edx", %rdx, $0x4d4d566e, 8
    mov $0x40000002, %eax
    cpuid
    CHECK "pages", %rax, $1, 8
    mov %ebx, %ecx                 /* the hypercall-page MSR */
    lea hypercall_page(%rip), %rax
    xor %edx, %edx
    wrmsr
    xor %edi, %edi                 /* XENVER_version */
    xor %esi, %esi
    call hypercall_page + 17 * 32  /* __HYPERVISOR_xen_version */
    mov %rax, %rbx
    shr $16, %rbx
    CHECK "xen-major", %rbx, $4, 4
    call hypercall_page + 63 * 32  /* not a Xen hypercall */
    CHECK "unknown", %rax, $-38, 16
    call guest_finish

    .balign 4096
hypercall_page:
    .fill 4096, 1, 0

#include "guest_lib.inc"
