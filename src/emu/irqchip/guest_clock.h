#pragma once
/// The guest's time base for the own engine: the guest TSC ticks at `tsc_hz` from a fixed origin
/// of the host steady clock (SDM Vol. 3B 18.17, invariant TSC). The local APIC timer, the
/// TSC-deadline timer (SDM Vol. 3A 10.5.4.1) and the 8254 PIT all convert through this class, so
/// RDTSC, APIC timer counts and PIT counts agree with each other.
#include <atomic>
#include <cstdint>
#include <functional>

namespace popek::emu {

/// Nanoseconds on a monotonic clock. Production: the host steady clock; tests inject their own.
using NowFn = std::function<uint64_t()>;

/// The host steady clock in nanoseconds (the time base of poll_timers() and wait() deadlines).
uint64_t steady_now_ns();

class GuestClock {
public:
    explicit GuestClock(uint64_t tsc_hz);
    /// Same, reading time from `now` (tests drive time by hand).
    GuestClock(uint64_t tsc_hz, NowFn now);

    uint64_t tsc_hz() const { return m_tsc_hz; }
    /// Current time in the clock's nanosecond base: the steady clock (unless injected) less the
    /// time the VM spent paused; while paused it stands still.
    uint64_t now_ns() const;
    /// The host time (steady clock, or the injected one) at which now_ns() reads `clock_ns`, for
    /// host waits on guest deadlines; saturates.
    /// The raw clock is the host's steady clock (not a test's own): host_ns() is steady-clock time.
    bool host_steady() const { return !m_now; }
    uint64_t host_ns(uint64_t clock_ns) const;
    /// Pauses the VM's time (PATCH /vm Paused, docs/api.md): every reading through this clock
    /// (RDTSC, the APIC, TSC-deadline and PIT timers) stops until resume(), then goes on from
    /// where it stood, so the guest sees no jump (as Firecracker and QEMU pause a VM). Idempotent.
    void pause();
    void resume();
    bool paused() const;

    /// Guest TSC value now (RDTSC).
    uint64_t tsc_now() const { return tsc_at(now_ns()); }
    /// Guest TSC value at time `ns` (times before the origin read as the origin's value).
    uint64_t tsc_at(uint64_t ns) const;
    /// The earliest time at which the guest TSC reads `tsc` or more (TSC-deadline arming).
    uint64_t ns_for_tsc(uint64_t tsc) const;
    /// WRMSR IA32_TSC (0x10): the TSC reads `value` now and keeps ticking from there.
    void set_tsc(uint64_t value);

    /// Snapshot (docs/snapshot.md "CLCK"): the origin, the time now and the TSC offset, in the
    /// clock's own base. restore() makes now_ns() go on from the saved time (the timers' deadlines,
    /// saved in the same base, stay valid), whatever the host's steady clock reads.
    struct Saved {
        uint64_t origin_ns, now_ns, tsc_offset, tsc_hz;
    };
    Saved save() const;
    /// Before any vCPU runs. Leaves the clock running.
    void restore(const Saved& s);

    /// Converts a span of nanoseconds into ticks of a `hz` clock, rounding down (128-bit safe).
    static uint64_t ticks_in(uint64_t ns, uint64_t hz);
    /// The nanoseconds that `ticks` ticks of a `hz` clock last, rounding up (saturates).
    static uint64_t ns_for_ticks(uint64_t ticks, uint64_t hz);

private:
    uint64_t raw_now_ns() const { return m_now ? m_now() : steady_now_ns(); }
    /// {time spent paused before the current pause, start of the current pause (0: running)},
    /// read consistently under a sequence count (writers are rare: pause and resume).
    struct PauseState {
        uint64_t paused_total;
        uint64_t paused_since;
    };
    PauseState pause_state() const;
    void set_pause_state(PauseState s);

    uint64_t m_tsc_hz;
    NowFn m_now;
    mutable std::atomic<uint64_t> m_pause_seq{0};
    std::atomic<uint64_t> m_paused_total{0};
    std::atomic<uint64_t> m_paused_since{0};
    uint64_t m_origin_ns;
    /// Added to the ticks counted since the origin; changed by set_tsc (two's complement wrap).
    std::atomic<uint64_t> m_tsc_offset{0};
};

}  // namespace popek::emu
