#include "drivers/xen_timer.h"

#include "pv/evtchn.h"
#include "pv/hypercall.h"
#include "pv/xen_clock.h"

namespace pos {

bool XenTimer::start_on(uint32_t hz, int cpu) {
    if (hz == 0) return false;
    m_cpu = cpu;
    long port = xen::evtchn::bind_virq(VIRQ_TIMER, static_cast<uint32_t>(cpu));
    if (port <= 0) return false;
    m_port = static_cast<evtchn_port_t>(port);
    m_period_ns = 1000000000ull / hz;
    m_next_ns = xen::clock::now_ns() + m_period_ns;
    if (!xen::evtchn::set_handler(m_port, on_event, this, cpu)) return false;
    arm();
    return true;
}

void XenTimer::arm() {
    vcpu_set_singleshot_timer_t sst{};
    sst.timeout_abs_ns = m_next_ns;
    sst.flags = 0;   // a deadline already past fires at once (no VCPU_SSHOTTMR_future)
    xen::vcpu_op(VCPUOP_set_singleshot_timer, static_cast<unsigned>(m_cpu), &sst);
}

void XenTimer::on_event(evtchn_port_t, void* ctx) {
    auto* self = static_cast<XenTimer*>(ctx);
    ++self->m_events;
    uint64_t now = xen::clock::now_ns();
    for (int i = 0; i < kMaxCatchUp && self->m_next_ns <= now; ++i) {
        self->tick();
        self->m_next_ns += self->m_period_ns;
    }
    if (self->m_next_ns <= now) self->m_next_ns = now + self->m_period_ns;   // too far behind: skip
    self->arm();
}

}  // namespace pos
