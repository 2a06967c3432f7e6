// XenPlatform under `--record` / `--replay` (docs/record-replay.md "Xen guests"): the singleshot
// timers (VCPUOP_set_singleshot_timer, set_timer_op: xen/include/public/vcpu.h) and the waits of
// SCHEDOP_block / SCHEDOP_poll (xen/include/public/sched.h) without a host thread or host time.
// Everything here runs on the vCPU thread, at points the instruction stream defines: the engine's
// poll points (every 2048 instructions) and the hypercalls themselves; the clock is the
// session's virtual time, which a wait moves to the next deadline (emu::Determinism::idle).
#include <algorithm>
#include <functional>
#include <limits>

#include "emu/determinism.h"
#include "vmm/xen_platform.h"

namespace popek::vmm {
namespace {

constexpr uint64_t kNone = std::numeric_limits<uint64_t>::max();

}  // namespace

void XenPlatform::poll_timers() {
    const uint64_t now = now_ns();
    for (size_t v = 0; v < m_timer_deadline.size(); ++v) {
        {
            std::lock_guard lock(m_lock);
            const uint64_t d = m_timer_deadline[v];
            if (d == 0 || d > now) continue;
            m_timer_deadline[v] = 0;
        }
        m_domain->event_channels().raise_virq(VIRQ_TIMER, static_cast<int>(v));
    }
}

uint64_t XenPlatform::next_timer_ns() {
    std::lock_guard lock(m_lock);
    uint64_t next = kNone;
    for (uint64_t d : m_timer_deadline)
        if (d != 0 && d < next) next = d;
    // System time is the engine clock less m_start_ns (0 here).
    return next == kNone ? kNone : next + m_start_ns.load();
}

void XenPlatform::wait_deterministic(const std::function<bool()>& ready, uint64_t deadline_ns) {
    emu::Determinism* clock = emu::t_determinism;
    for (;;) {
        poll_timers();
        if (ready() || m_life.exiting() || !clock) return;
        if (deadline_ns != 0 && now_ns() >= deadline_ns) return;
        uint64_t until = next_timer_ns();
        if (deadline_ns != 0) until = std::min(until, deadline_ns + m_start_ns.load());
        // The session feeds logged or typed console input here (an Input event names this
        // wait), or moves the virtual clock to `until`; the next round fires the timer.
        clock->idle(until);
    }
}

}  // namespace popek::vmm
