#pragma once
/// Adaptive halt polling for a vCPU of the own engine, as KVM does it (virt/kvm/kvm_main.c
/// kvm_vcpu_halt, grow_halt_poll_ns / shrink_halt_poll_ns; Documentation/virt/kvm/halt-polling.rst).
///
/// A halted vCPU first watches for a wake-up for a short window before its host thread sleeps.
/// Waking a sleeping host thread costs the sender a futex wake and the target a trip through the
/// host scheduler (measured on the project host, itself a PVM guest: 95-180 us on average for an
/// IPI to a halted vCPU, up to milliseconds), while a vCPU that still polls answers within
/// microseconds. Between two vCPUs that hand work to each other (an IPI answered by an IPI:
/// smp_call_function, TLB shootdowns, a wake-up followed by the woken task's reply) that latency
/// is paid on every exchange. The window adapts so an idle vCPU does not burn its host core: it
/// grows (10 us, then doubling up to 200 us) after a halt that ended within 200 us but after the
/// window, and drops to zero after one that lasted longer (KVM's default halt_poll_ns_shrink = 0).
#include <algorithm>
#include <cstdint>

namespace popek::emu {

class HaltPoll {
public:
    static constexpr uint64_t kStartNs = 10'000;   ///< KVM halt_poll_ns_grow_start
    static constexpr uint64_t kMaxNs = 200'000;    ///< KVM's default halt_poll_ns
    static constexpr unsigned kGrow = 2;           ///< KVM halt_poll_ns_grow

    /// `window_ns`: the first halt's window (0, as KVM starts; tests start elsewhere).
    explicit HaltPoll(uint64_t max_ns = kMaxNs, uint64_t window_ns = 0) : m_max(max_ns), m_window(std::min(window_ns, max_ns)) {}

    /// How long the next halt polls before the thread sleeps.
    uint64_t window_ns() const { return m_window; }
    uint64_t max_ns() const { return m_max; }

    /// A halt ended after `halt_ns` (polling and sleeping). `event`: it ended because something
    /// became pending (not at a timer deadline nor by a bare kick); KVM's valid wake-up.
    void update(uint64_t halt_ns, bool event) {
        if (!event) {
            m_window = 0;   // nothing worth waiting for came: do not poll for it next time
        } else if (halt_ns <= m_window) {
            // the window caught it: keep it
        } else if (halt_ns > m_max) {
            m_window = 0;   // a long sleep: polling would only have burnt the host core
        } else {
            m_window = std::min(m_max, std::max(kStartNs, m_window * kGrow));   // a short halt: poll longer
        }
    }

private:
    uint64_t m_max;
    uint64_t m_window;
};

}  // namespace popek::emu
