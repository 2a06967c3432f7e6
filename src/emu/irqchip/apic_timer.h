#pragma once
/// The local APIC timer (SDM Vol. 3A 10.5.4): one-shot and periodic count-down from the initial
/// count register at the APIC timer frequency divided by the divide configuration, and the
/// TSC-deadline mode armed through IA32_TSC_DEADLINE (10.5.4.1). Pure time arithmetic: the
/// owning LocalApic serializes access and raises the LVT timer interrupt when poll() says so.
#include <cstdint>

#include "emu/irqchip/guest_clock.h"

namespace popek::snapshot {
class Writer;
class Reader;
}  // namespace popek::snapshot

namespace popek::emu {

/// LVT timer bits 18:17 (Figure 10-8); the reserved value 3 behaves as one-shot.
enum class ApicTimerMode : uint8_t { OneShot = 0, Periodic = 1, TscDeadline = 2 };

class ApicTimer {
public:
    static constexpr uint64_t kNever = UINT64_MAX;
    /// Shortest period the periodic mode fires at, so a guest cannot drown its vCPU in timer
    /// interrupts (the count registers still follow the programmed period).
    static constexpr uint64_t kMinPeriodNs = 50'000;

    ApicTimer(const GuestClock& clock, uint64_t apic_hz) : m_clock(clock), m_apic_hz(apic_hz) {}

    /// Power-up / INIT state: one-shot, divide by 2, counts 0, disarmed.
    void reset();
    /// Snapshot state (docs/snapshot.md; src/snapshot/): every field the guest can observe.
    void save(snapshot::Writer& w);
    /// Hostile input: range-checked, failures recorded in `r`.
    void load(snapshot::Reader& r);

    ApicTimerMode mode() const { return m_mode; }
    /// LVT timer mode change. Entering or leaving TSC-deadline mode disarms the timer and
    /// clears the initial count and the deadline; one-shot <-> periodic keeps counting.
    void set_mode(ApicTimerMode mode, uint64_t now_ns);

    /// Divide configuration register (bits 0, 1, 3; Figure 10-10).
    void set_divide_config(uint32_t value, uint64_t now_ns);
    uint32_t divide_config() const { return m_divide_config; }
    /// The divisor the register selects: 2, 4, ..., 128, or 1.
    static uint32_t divisor_for(uint32_t divide_config);

    /// Writing the initial count (re)starts the count-down; 0 stops the timer. Ignored in
    /// TSC-deadline mode.
    void set_initial_count(uint32_t count, uint64_t now_ns);
    uint32_t initial_count() const { return m_initial; }
    /// The current count register, computed from the clock (0 once a one-shot expired).
    uint32_t current_count(uint64_t now_ns) const;

    /// IA32_TSC_DEADLINE write: 0 disarms; ignored unless in TSC-deadline mode.
    void set_tsc_deadline(uint64_t tsc);
    /// IA32_TSC_DEADLINE read: the armed value, 0 when disarmed or fired, or not in that mode.
    uint64_t tsc_deadline() const { return m_mode == ApicTimerMode::TscDeadline ? m_tsc_deadline : 0; }

    /// True when the timer expired at or before `now_ns`; advances to the next expiry (periodic,
    /// missed periods coalesced into one) or disarms (one-shot, TSC-deadline).
    bool poll(uint64_t now_ns);
    /// The next expiry on the clock's nanosecond base, kNever if disarmed.
    uint64_t deadline_ns() const { return m_deadline_ns; }

private:
    uint64_t period_ticks() const { return uint64_t{m_initial} * divisor_for(m_divide_config); }
    uint64_t elapsed_ticks(uint64_t now_ns) const;
    void rearm(uint64_t now_ns);

    const GuestClock& m_clock;
    uint64_t m_apic_hz;
    ApicTimerMode m_mode = ApicTimerMode::OneShot;
    uint32_t m_divide_config = 0;
    uint32_t m_initial = 0;
    uint64_t m_start_ns = 0;
    bool m_one_shot_expired = false;
    uint64_t m_tsc_deadline = 0;
    uint64_t m_deadline_ns = kNever;
};

}  // namespace popek::emu
