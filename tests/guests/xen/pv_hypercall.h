/* pv_hypercall.h - Xen hypercalls through the hypercall page (x86-64 ABI: rax = number, arguments
 * in rdi rsi rdx r10 r8, result in rax; xen.h, arch-x86/xen-x86_64.h). The page is found and
 * installed the way a PVH guest does it: the "XenVMMXenVMM" CPUID leaf, then leaf base+2 gives the
 * MSR to write the page's address to (arch-x86/cpuid.h). */
#pragma once
#include "pv_rt.h"

extern uint8_t pv_hypercall_page[PV_PAGE_SIZE];

/* Finds Xen's CPUID leaves and installs the hypercall page; prints why and returns false if the
 * signature is missing ("pv: no Xen signature ..."). */
bool pv_hypercall_init(void);

static inline long pv_hypercall(unsigned nr, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4, uint64_t a5) {
    register uint64_t r10 __asm__("r10") = a4;
    register uint64_t r8 __asm__("r8") = a5;
    long ret;
    void* stub = pv_hypercall_page + nr * 32;
    __asm__ volatile("call *%[stub]"
                     : "=a"(ret), "+D"(a1), "+S"(a2), "+d"(a3), "+r"(r10), "+r"(r8)
                     : [stub] "r"(stub)
                     : "memory", "rcx", "r9", "r11", "cc");
    return ret;
}

#define PV_U(x) ((uint64_t)(uintptr_t)(x))
static inline long HYPERVISOR_xen_version(int cmd, void* arg) {
    return pv_hypercall(__HYPERVISOR_xen_version, (uint64_t)cmd, PV_U(arg), 0, 0, 0);
}
static inline long HYPERVISOR_console_io(int cmd, unsigned count, const char* buf) {
    return pv_hypercall(__HYPERVISOR_console_io, (uint64_t)cmd, count, PV_U(buf), 0, 0);
}
static inline long HYPERVISOR_sched_op(int cmd, void* arg) {
    return pv_hypercall(__HYPERVISOR_sched_op, (uint64_t)cmd, PV_U(arg), 0, 0, 0);
}
static inline long HYPERVISOR_set_timer_op(uint64_t deadline_ns) {
    return pv_hypercall(__HYPERVISOR_set_timer_op, deadline_ns, 0, 0, 0, 0);
}
static inline long HYPERVISOR_vcpu_op(int cmd, unsigned vcpu, void* arg) {
    return pv_hypercall(__HYPERVISOR_vcpu_op, (uint64_t)cmd, vcpu, PV_U(arg), 0, 0);
}
static inline long HYPERVISOR_memory_op(unsigned cmd, void* arg) {
    return pv_hypercall(__HYPERVISOR_memory_op, cmd, PV_U(arg), 0, 0, 0);
}
static inline long HYPERVISOR_hvm_op(int op, void* arg) {
    return pv_hypercall(__HYPERVISOR_hvm_op, (uint64_t)op, PV_U(arg), 0, 0, 0);
}
static inline long HYPERVISOR_event_channel_op(int cmd, void* arg) {
    return pv_hypercall(__HYPERVISOR_event_channel_op, (uint64_t)cmd, PV_U(arg), 0, 0, 0);
}
static inline long HYPERVISOR_grant_table_op(unsigned cmd, void* uop, unsigned count) {
    return pv_hypercall(__HYPERVISOR_grant_table_op, cmd, PV_U(uop), count, 0, 0);
}

/* HVMOP_get_param for this domain; the value or a negative errno in *value's place. */
long pv_hvm_get_param(uint32_t index, uint64_t* value);
long pv_hvm_set_param(uint32_t index, uint64_t value);
/* Xen system time (ns since boot). popek publishes no pvclock yet, so this reads it from the
 * runstate area (vcpu.h: state_entry_time is system time), which popek fills at registration. */
uint64_t pv_now_ns(void);
