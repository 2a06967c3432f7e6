#pragma once
/// Xen detection and hypercalls for a PVH guest: the "XenVMMXenVMM" CPUID leaves
/// (arch-x86/cpuid.h), the hypercall page installed through the MSR that leaf base+2 names, and
/// the x86-64 calling convention (xen.h: rax = number, arguments in rdi rsi rdx r10 r8).
#include "pv/xen_abi.h"

namespace pos::xen {

/// Looks for Xen's CPUID signature and installs the hypercall page. False (and nothing changed)
/// without Xen: the caller then keeps the phase-1 drivers.
bool detect_and_init();
/// True once detect_and_init() found Xen.
bool present();
/// Guest TSC frequency from the Xen TSC leaf (base+3, sub-leaf 0, ECX in kHz), or 0.
uint64_t tsc_khz_from_cpuid();

extern "C" uint8_t xen_hypercall_page[4096];

inline long hypercall(unsigned nr, uint64_t a1 = 0, uint64_t a2 = 0, uint64_t a3 = 0, uint64_t a4 = 0,
                      uint64_t a5 = 0) {
    register uint64_t r10 asm("r10") = a4;
    register uint64_t r8 asm("r8") = a5;
    long ret;
    void* stub = xen_hypercall_page + nr * 32;
    asm volatile("call *%[stub]"
                 : "=a"(ret), "+D"(a1), "+S"(a2), "+d"(a3), "+r"(r10), "+r"(r8)
                 : [stub] "r"(stub)
                 : "memory", "rcx", "r9", "r11", "cc");
    return ret;
}

inline uint64_t ptr(const void* p) { return reinterpret_cast<uint64_t>(p); }
inline long sched_op(int cmd, void* arg) { return hypercall(__HYPERVISOR_sched_op, static_cast<uint64_t>(cmd), ptr(arg)); }
inline long vcpu_op(int cmd, unsigned vcpu, void* arg) {
    return hypercall(__HYPERVISOR_vcpu_op, static_cast<uint64_t>(cmd), vcpu, ptr(arg));
}
inline long memory_op(unsigned cmd, void* arg) { return hypercall(__HYPERVISOR_memory_op, cmd, ptr(arg)); }
inline long hvm_op(int op, void* arg) { return hypercall(__HYPERVISOR_hvm_op, static_cast<uint64_t>(op), ptr(arg)); }
inline long event_channel_op(int cmd, void* arg) {
    return hypercall(__HYPERVISOR_event_channel_op, static_cast<uint64_t>(cmd), ptr(arg));
}
inline long grant_table_op(unsigned cmd, void* uop, unsigned count) {
    return hypercall(__HYPERVISOR_grant_table_op, cmd, ptr(uop), count);
}

/// HVMOP_get_param / set_param for this domain (hvm/params.h); 0 or a negative errno.
long get_param(uint32_t index, uint64_t& value);
long set_param(uint32_t index, uint64_t value);
/// Places a Xen-owned frame (shared_info, grant table frame `idx`) at the guest frame holding
/// `page` (XENMEM_add_to_physmap, memory.h).
long add_to_physmap(unsigned space, unsigned long idx, const void* page);

/// SCHEDOP_shutdown (sched.h): SHUTDOWN_poweroff or SHUTDOWN_crash. Returns only if it failed.
void shutdown(unsigned reason);
/// SCHEDOP_block: sleeps until an event is pending for this vCPU (call with interrupts off; the
/// upcall is taken after the caller enables them again).
void block();

}  // namespace pos::xen
