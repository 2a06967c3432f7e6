#include "emu/irqchip/apic_timer.h"

#include <algorithm>

namespace popek::emu {

void ApicTimer::reset() {
    m_mode = ApicTimerMode::OneShot;
    m_divide_config = 0;
    m_initial = 0;
    m_start_ns = 0;
    m_one_shot_expired = false;
    m_tsc_deadline = 0;
    m_deadline_ns = kNever;
}

uint32_t ApicTimer::divisor_for(uint32_t divide_config) {
    uint32_t code = (divide_config & 3) | ((divide_config >> 1) & 4);
    return code == 7 ? 1 : 2u << code;
}

uint64_t ApicTimer::elapsed_ticks(uint64_t now_ns) const {
    if (now_ns <= m_start_ns) return 0;
    return GuestClock::ticks_in(now_ns - m_start_ns, m_apic_hz) / divisor_for(m_divide_config);
}

void ApicTimer::set_mode(ApicTimerMode mode, uint64_t now_ns) {
    if (mode == m_mode) return;
    // A one-shot count that reached 0 has stopped: switching to periodic does not restart it
    // (the count stays 0 until TMICT is written, as on KVM; kvm-unit-tests apic "TMCCT should
    // stay at zero"). If it reached 0 since the last poll, the deadline stays so the interrupt
    // still fires once.
    if (m_mode == ApicTimerMode::OneShot && mode == ApicTimerMode::Periodic && m_initial != 0 &&
        (m_one_shot_expired || elapsed_ticks(now_ns) >= m_initial)) {
        m_one_shot_expired = true;
        m_mode = mode;
        return;
    }
    bool deadline_change = (mode == ApicTimerMode::TscDeadline) != (m_mode == ApicTimerMode::TscDeadline);
    m_mode = mode;
    if (deadline_change) {
        m_initial = 0;
        m_tsc_deadline = 0;
        m_one_shot_expired = false;
        m_deadline_ns = kNever;
        return;
    }
    rearm(now_ns);
}

void ApicTimer::set_divide_config(uint32_t value, uint64_t now_ns) {
    value &= 0xb;
    if (value == m_divide_config) return;
    bool counting = m_mode != ApicTimerMode::TscDeadline && m_initial != 0 && !m_one_shot_expired;
    uint32_t remaining = counting ? current_count(now_ns) : 0;
    m_divide_config = value;
    if (!counting) return;
    // Keep the remaining count and go on at the new rate.
    uint64_t done = uint64_t{m_initial} - remaining;
    uint64_t done_ns = GuestClock::ns_for_ticks(done * divisor_for(value), m_apic_hz);
    m_start_ns = now_ns > done_ns ? now_ns - done_ns : 0;
    rearm(now_ns);
}

void ApicTimer::set_initial_count(uint32_t count, uint64_t now_ns) {
    if (m_mode == ApicTimerMode::TscDeadline) return;
    m_initial = count;
    m_start_ns = now_ns;
    m_one_shot_expired = false;
    rearm(now_ns);
}

uint32_t ApicTimer::current_count(uint64_t now_ns) const {
    if (m_mode == ApicTimerMode::TscDeadline || m_initial == 0) return 0;
    if (m_one_shot_expired) return 0;   // stopped at 0 (also when since switched to periodic)
    uint64_t elapsed = elapsed_ticks(now_ns);
    if (m_mode == ApicTimerMode::Periodic) return static_cast<uint32_t>(m_initial - elapsed % m_initial);
    return elapsed >= m_initial ? 0 : static_cast<uint32_t>(m_initial - elapsed);
}

void ApicTimer::set_tsc_deadline(uint64_t tsc) {
    if (m_mode != ApicTimerMode::TscDeadline) return;
    m_tsc_deadline = tsc;
    m_deadline_ns = tsc == 0 ? kNever : m_clock.ns_for_tsc(tsc);
}

void ApicTimer::rearm(uint64_t now_ns) {
    if (m_mode == ApicTimerMode::TscDeadline) return;
    if (m_initial == 0 || m_one_shot_expired) {
        m_deadline_ns = kNever;
        return;
    }
    uint64_t period = period_ticks();
    uint64_t periods_done = m_mode == ApicTimerMode::Periodic
                                ? GuestClock::ticks_in(now_ns > m_start_ns ? now_ns - m_start_ns : 0, m_apic_hz) /
                                      period
                                : 0;
    uint64_t next = m_start_ns + GuestClock::ns_for_ticks((periods_done + 1) * period, m_apic_hz);
    if (m_mode == ApicTimerMode::Periodic) next = std::max(next, now_ns + kMinPeriodNs);
    m_deadline_ns = next;
}

bool ApicTimer::poll(uint64_t now_ns) {
    if (now_ns < m_deadline_ns) return false;
    switch (m_mode) {
    case ApicTimerMode::TscDeadline:
        m_tsc_deadline = 0;
        m_deadline_ns = kNever;
        break;
    case ApicTimerMode::Periodic:
        rearm(now_ns);
        break;
    case ApicTimerMode::OneShot:
        m_one_shot_expired = true;
        m_deadline_ns = kNever;
        break;
    }
    return true;
}

}  // namespace popek::emu
