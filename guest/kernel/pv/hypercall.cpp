#include "pv/hypercall.h"

#include "arch/x86.h"
#include "mm/pmm.h"

alignas(4096) uint8_t xen_hypercall_page[4096];

namespace pos::xen {
namespace {
bool g_present = false;
uint32_t g_base = 0;
}  // namespace

bool detect_and_init() {
    // Xen sits at 0x40000000, or at 0x40000100 behind a Viridian interface (arch-x86/cpuid.h).
    for (uint32_t base = 0x40000000; base <= 0x40000100; base += 0x100) {
        auto sig = x86::cpuid(base);
        if (sig.ebx != XEN_CPUID_SIGNATURE_EBX || sig.ecx != XEN_CPUID_SIGNATURE_ECX ||
            sig.edx != XEN_CPUID_SIGNATURE_EDX || sig.eax < base + 2)
            continue;
        auto pages = x86::cpuid(base + 2);   // EAX: number of hypercall pages, EBX: the MSR
        if (pages.eax < 1) return false;
        x86::wrmsr(pages.ebx, virt_to_phys(xen_hypercall_page));
        g_base = base;
        g_present = true;
        return true;
    }
    return false;
}

bool present() { return g_present; }

uint64_t tsc_khz_from_cpuid() {
    if (!g_present || x86::cpuid(g_base).eax < g_base + 3) return 0;
    return x86::cpuid(g_base + 3, 0).ecx;
}

long get_param(uint32_t index, uint64_t& value) {
    xen_hvm_param_t p{};
    p.domid = DOMID_SELF;
    p.index = index;
    long r = hvm_op(HVMOP_get_param, &p);
    if (r == 0) value = p.value;
    return r;
}

long set_param(uint32_t index, uint64_t value) {
    xen_hvm_param_t p{};
    p.domid = DOMID_SELF;
    p.index = index;
    p.value = value;
    return hvm_op(HVMOP_set_param, &p);
}

long add_to_physmap(unsigned space, unsigned long idx, const void* page) {
    xen_add_to_physmap_t x{};
    x.domid = DOMID_SELF;
    x.space = space;
    x.idx = idx;
    x.gpfn = virt_to_phys(page) >> 12;
    return memory_op(XENMEM_add_to_physmap, &x);
}

void shutdown(unsigned reason) {
    sched_shutdown_t s{};
    s.reason = reason;
    sched_op(SCHEDOP_shutdown, &s);
}

void block() { sched_op(SCHEDOP_block, nullptr); }

}  // namespace pos::xen
