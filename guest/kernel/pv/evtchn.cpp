#include "pv/evtchn.h"

#include "arch/apic.h"
#include "arch/cpu.h"
#include "arch/trap.h"
#include "common/string.h"
#include "lib/kprint.h"
#include "mm/pmm.h"
#include "pv/hypercall.h"
#include "pv/xen_clock.h"

namespace pos::xen::evtchn {
namespace {

constexpr unsigned kWordBits = sizeof(xen_ulong_t) * 8;
constexpr unsigned kMaxPorts = sizeof(shared_info_t::evtchn_pending) * 8;   // 4096 on x86-64
constexpr unsigned kWords = kMaxPorts / kWordBits;

alignas(4096) uint8_t g_shared_page[4096];
auto* const g_shared = reinterpret_cast<shared_info_t*>(g_shared_page);
/// Registered vcpu_info areas (64 bytes each, so never across a page).
alignas(64) vcpu_info_t g_vcpu_info[kMaxCpus];
bool g_vcpu_registered[kMaxCpus];

struct Binding {
    Handler handler;
    void* ctx;
};
Binding g_bindings[kMaxPorts];
/// The ports each CPU dispatches (those with a handler bound to it).
xen_ulong_t g_cpu_ports[kMaxCpus][kWords];
uint64_t g_upcalls = 0;

xen_ulong_t bit(evtchn_port_t port) { return xen_ulong_t{1} << (port % kWordBits); }

void dispatch_word(int cpu, unsigned word) {
    for (;;) {
        xen_ulong_t ready = __atomic_load_n(&g_shared->evtchn_pending[word], __ATOMIC_ACQUIRE) &
                            ~__atomic_load_n(&g_shared->evtchn_mask[word], __ATOMIC_ACQUIRE) &
                            __atomic_load_n(&g_cpu_ports[cpu][word], __ATOMIC_ACQUIRE);
        if (ready == 0) return;
        while (ready != 0) {
            unsigned b = static_cast<unsigned>(__builtin_ctzl(ready));
            ready &= ready - 1;
            evtchn_port_t port = word * kWordBits + b;
            // Clear before running the handler: an event raised while it runs sets the bit again.
            __atomic_fetch_and(&g_shared->evtchn_pending[word], ~bit(port), __ATOMIC_SEQ_CST);
            const Binding& bnd = g_bindings[port];
            if (bnd.handler != nullptr) bnd.handler(port, bnd.ctx);
        }
    }
}

/// The callback vector's handler (xen.h vcpu_info: clear evtchn_upcall_pending, take the
/// selector, scan its words). Xen raises the vector on the flag's 0->1 edge only, so the loop
/// runs until the flag stays clear.
void upcall() {
    const int cpu = this_cpu()->id;
    vcpu_info_t* vi = vcpu_info(cpu);
    __atomic_fetch_add(&g_upcalls, 1, __ATOMIC_RELAXED);
    while (__atomic_load_n(&vi->evtchn_upcall_pending, __ATOMIC_ACQUIRE) != 0) {
        __atomic_store_n(&vi->evtchn_upcall_pending, 0, __ATOMIC_SEQ_CST);
        xen_ulong_t sel = __atomic_exchange_n(&vi->evtchn_pending_sel, 0, __ATOMIC_SEQ_CST);
        while (sel != 0) {
            unsigned word = static_cast<unsigned>(__builtin_ctzl(sel));
            sel &= sel - 1;
            dispatch_word(cpu, word);
        }
    }
}

}  // namespace

vcpu_info_t* vcpu_info(int cpu) {
    if (cpu >= 0 && cpu < kMaxCpus && g_vcpu_registered[cpu]) return &g_vcpu_info[cpu];
    return &g_shared->vcpu_info[cpu];   // the legacy slots in shared_info (first 32 vCPUs)
}

uint64_t upcalls() { return g_upcalls; }

void dispatch_pending() { upcall(); }

bool init(int cpu, const char** reason) {
    if (cpu == 0) {
        // Every port starts masked: only ports with a handler are unmasked (set_handler).
        memset(g_shared_page, 0, sizeof g_shared_page);
        memset(g_shared->evtchn_mask, 0xff, sizeof g_shared->evtchn_mask);
        if (add_to_physmap(XENMAPSPACE_shared_info, 0, g_shared_page) != 0) {
            *reason = "XENMEM_add_to_physmap(shared_info) failed";
            return false;
        }
        // Xen keeps the mask across placement only if it was in its copy; set it again.
        memset(g_shared->evtchn_mask, 0xff, sizeof g_shared->evtchn_mask);
    }
    if (cpu < kMaxCpus) {
        vcpu_register_vcpu_info_t reg{};
        uint64_t phys = virt_to_phys(&g_vcpu_info[cpu]);
        reg.mfn = phys >> 12;
        reg.offset = static_cast<uint32_t>(phys & 0xfff);
        g_vcpu_registered[cpu] = vcpu_op(VCPUOP_register_vcpu_info, static_cast<unsigned>(cpu), &reg) == 0;
    }
    set_interrupt_handler(kVectorXenUpcall, upcall);
    if (cpu == 0 &&
        set_param(HVM_PARAM_CALLBACK_IRQ,
                  (uint64_t{HVM_PARAM_CALLBACK_TYPE_VECTOR} << 56) | kVectorXenUpcall) != 0) {
        *reason = "HVM_PARAM_CALLBACK_IRQ (vector) refused";
        return false;
    }
    return true;
}

long bind_virq(uint32_t virq, uint32_t cpu) {
    evtchn_bind_virq_t op{};
    op.virq = virq;
    op.vcpu = cpu;
    long r = event_channel_op(EVTCHNOP_bind_virq, &op);
    return r == 0 ? static_cast<long>(op.port) : r;
}

long bind_ipi(uint32_t cpu) {
    evtchn_bind_ipi_t op{};
    op.vcpu = cpu;
    long r = event_channel_op(EVTCHNOP_bind_ipi, &op);
    return r == 0 ? static_cast<long>(op.port) : r;
}

long alloc_unbound(domid_t remote) {
    evtchn_alloc_unbound_t op{};
    op.dom = DOMID_SELF;
    op.remote_dom = remote;
    long r = event_channel_op(EVTCHNOP_alloc_unbound, &op);
    return r == 0 ? static_cast<long>(op.port) : r;
}

long close(evtchn_port_t port) {
    if (port < kMaxPorts) {
        mask(port);
        for (auto& ports : g_cpu_ports) __atomic_fetch_and(&ports[port / kWordBits], ~bit(port), __ATOMIC_SEQ_CST);
        g_bindings[port] = {nullptr, nullptr};
    }
    evtchn_close_t op{};
    op.port = port;
    return event_channel_op(EVTCHNOP_close, &op);
}

void notify(evtchn_port_t port) {
    evtchn_send_t op{};
    op.port = port;
    event_channel_op(EVTCHNOP_send, &op);
}

bool set_handler(evtchn_port_t port, Handler handler, void* ctx, int cpu) {
    if (port == 0 || port >= kMaxPorts || cpu < 0 || cpu >= kMaxCpus) return false;
    g_bindings[port] = {handler, ctx};
    __atomic_fetch_or(&g_cpu_ports[cpu][port / kWordBits], bit(port), __ATOMIC_SEQ_CST);
    unmask(port);
    return true;
}

void mask(evtchn_port_t port) {
    if (port < kMaxPorts) __atomic_fetch_or(&g_shared->evtchn_mask[port / kWordBits], bit(port), __ATOMIC_SEQ_CST);
}

void unmask(evtchn_port_t port) {
    // Through Xen, which re-raises a port that became pending while it was masked.
    evtchn_unmask_t op{};
    op.port = port;
    event_channel_op(EVTCHNOP_unmask, &op);
}

bool test_and_clear(evtchn_port_t port) {
    if (port >= kMaxPorts) return false;
    return (__atomic_fetch_and(&g_shared->evtchn_pending[port / kWordBits], ~bit(port), __ATOMIC_SEQ_CST) &
            bit(port)) != 0;
}

bool wait_port(evtchn_port_t port, uint64_t deadline_ns) {
    for (;;) {
        if (test_and_clear(port)) return true;
        if (deadline_ns != 0 && clock::now_ns() >= deadline_ns) return false;
        sched_poll_t poll{};
        poll.nr_ports = 1;
        poll.timeout = deadline_ns;
        set_xen_guest_handle(poll.ports, &port);
        if (sched_op(SCHEDOP_poll, &poll) != 0) return test_and_clear(port);
    }
}

}  // namespace pos::xen::evtchn
