#include "drivers/xen_console.h"

#include "arch/x86.h"
#include "mm/pmm.h"
#include "pv/evtchn.h"
#include "pv/hypercall.h"

namespace pos {

bool XenConsole::init(const char** reason) {
    uint64_t pfn = 0, port = 0;
    if (xen::get_param(HVM_PARAM_CONSOLE_PFN, pfn) != 0 || xen::get_param(HVM_PARAM_CONSOLE_EVTCHN, port) != 0 ||
        pfn == 0 || port == 0) {
        *reason = "no console ring (HVM_PARAM_CONSOLE_PFN/EVTCHN)";
        return false;
    }
    if ((pfn << 12) + kPageSize > kDirectMapLimit) {
        *reason = "console ring outside the direct map";
        return false;
    }
    m_ring = phys_to_virt<xencons_interface>(pfn << 12);
    m_port = static_cast<evtchn_port_t>(port);
    return xen::evtchn::set_handler(m_port, on_event, this) || (*reason = "bad console port", false);
}

uint32_t XenConsole::room() {
    // The back end in popek drains the ring synchronously when notified; a full ring therefore
    // means it is slow: publish, notify and wait for room, bounded so a dead back end cannot
    // hang the kernel (the console then drops output).
    for (int spins = 0; !m_broken; ++spins) {
        XENCONS_RING_IDX cons = __atomic_load_n(&m_ring->out_cons, __ATOMIC_ACQUIRE);
        uint32_t used = m_prod - cons;
        if (used > sizeof m_ring->out) {   // the back end moved out_cons past out_prod
            m_broken = true;
            break;
        }
        if (used < sizeof m_ring->out) return static_cast<uint32_t>(sizeof m_ring->out) - used;
        publish();
        if (spins > 1000) xen::sched_op(SCHEDOP_yield, nullptr);
        if (spins > 100000) m_broken = true;
        x86::pause();
    }
    return 0;
}

void XenConsole::publish() {
    xen_wmb();   // the bytes before the index (io/console.h)
    __atomic_store_n(&m_ring->out_prod, m_prod, __ATOMIC_RELEASE);
    xen::evtchn::notify(m_port);
}

void XenConsole::write(const char* data, size_t len) {
    LockGuard guard(m_lock);
    m_prod = m_ring->out_prod;
    uint32_t free = 0;
    for (size_t i = 0; i < len; ++i) {
        for (int half = data[i] == '\n' ? 0 : 1; half < 2; ++half) {   // "\n" goes out as "\r\n"
            if (free == 0 && (free = room()) == 0) return;
            m_ring->out[MASK_XENCONS_IDX(m_prod, m_ring->out)] = half == 0 ? '\r' : data[i];
            ++m_prod;
            --free;
        }
    }
    publish();
}

void XenConsole::handle_interrupt() {
    // Input: everything between in_cons and in_prod, then give the slots back.
    for (int round = 0; round < 64; ++round) {
        XENCONS_RING_IDX prod = __atomic_load_n(&m_ring->in_prod, __ATOMIC_ACQUIRE);
        XENCONS_RING_IDX cons = m_ring->in_cons;
        if (prod == cons) return;
        if (prod - cons > sizeof m_ring->in) {   // hostile indices: drop what is there
            __atomic_store_n(&m_ring->in_cons, prod, __ATOMIC_RELEASE);
            return;
        }
        xen_rmb();   // the index before the bytes
        char buf[sizeof m_ring->in];
        uint32_t n = prod - cons;
        for (uint32_t i = 0; i < n; ++i) buf[i] = m_ring->in[MASK_XENCONS_IDX(cons + i, m_ring->in)];
        xen_mb();    // bytes read before the slots are handed back
        __atomic_store_n(&m_ring->in_cons, prod, __ATOMIC_RELEASE);
        xen::evtchn::notify(m_port);
        for (uint32_t i = 0; i < n; ++i) deliver(buf[i]);
    }
}

void XenConsole::on_event(evtchn_port_t, void* self) { static_cast<XenConsole*>(self)->handle_interrupt(); }

}  // namespace pos
