#pragma once
#include "drivers/timer.h"
#include "pv/xen_abi.h"

namespace pos {

/// The scheduler tick under Xen, one per CPU: VIRQ_TIMER bound on its vCPU, re-armed on every event with
/// VCPUOP_set_singleshot_timer (vcpu.h) for the next period boundary in Xen system time
/// (xen/xen_clock.h). Periods missed while the vCPU was not running are caught up (up to
/// kMaxCatchUp ticks, one minute, at once) so that the tick count, and with it uptime and sleep,
/// keeps up with real time on a loaded host; only a longer stall is skipped.
class XenTimer final : public Timer {
public:
    bool start(uint32_t hz) override { return start_on(hz, 0); }
    /// Starts this CPU's tick; `cpu` must be the calling CPU (Xen arms a vCPU's own timer only).
    bool start_on(uint32_t hz, int cpu);
    /// Unused: the event-channel dispatcher calls on_event directly.
    void handle_interrupt() override {}
    const char* describe() const override { return "Xen VIRQ_TIMER + VCPUOP_set_singleshot_timer"; }
    uint64_t events() const { return m_events; }

private:
    static void on_event(evtchn_port_t port, void* self);
    void arm();
    static constexpr int kMaxCatchUp = 6000;
    uint64_t m_period_ns = 0;
    uint64_t m_next_ns = 0;
    uint64_t m_events = 0;
    evtchn_port_t m_port = 0;
    int m_cpu = 0;
};

}  // namespace pos
