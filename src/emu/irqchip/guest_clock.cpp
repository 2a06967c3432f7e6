#include "emu/irqchip/guest_clock.h"

#include <algorithm>
#include <chrono>
#include <limits>

namespace popek::emu {

namespace {
constexpr uint64_t kNsPerSecond = 1'000'000'000;
}

uint64_t steady_now_ns() {
    auto since = std::chrono::steady_clock::now().time_since_epoch();
    return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(since).count());
}

GuestClock::GuestClock(uint64_t tsc_hz) : GuestClock(tsc_hz, NowFn{}) {}

GuestClock::PauseState GuestClock::pause_state() const {
    for (;;) {
        const uint64_t seq = m_pause_seq.load(std::memory_order_acquire);
        if (seq & 1) continue;   // a writer is in the middle
        PauseState s{m_paused_total.load(std::memory_order_relaxed), m_paused_since.load(std::memory_order_relaxed)};
        std::atomic_thread_fence(std::memory_order_acquire);
        if (m_pause_seq.load(std::memory_order_relaxed) == seq) return s;
    }
}

void GuestClock::set_pause_state(PauseState s) {
    // One writer at a time: pause() and resume() come from the VMM's one controlling thread.
    m_pause_seq.fetch_add(1, std::memory_order_acq_rel);
    std::atomic_thread_fence(std::memory_order_release);
    m_paused_total.store(s.paused_total, std::memory_order_relaxed);
    m_paused_since.store(s.paused_since, std::memory_order_relaxed);
    m_pause_seq.fetch_add(1, std::memory_order_release);
}

uint64_t GuestClock::now_ns() const {
    const PauseState s = pause_state();
    const uint64_t raw = s.paused_since != 0 ? s.paused_since : raw_now_ns();
    return raw - s.paused_total;
}

uint64_t GuestClock::host_ns(uint64_t clock_ns) const {
    // paused_total is the host-minus-clock difference; after restore() it may be negative (two's
    // complement: the snapshot's clock was ahead of this host's steady clock).
    const auto total = static_cast<int64_t>(pause_state().paused_total);
    constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
    if (total >= 0) {
        const auto t = static_cast<uint64_t>(total);
        return clock_ns > kMax - t ? kMax : clock_ns + t;
    }
    if (clock_ns == kMax) return kMax;
    const uint64_t back = uint64_t{0} - static_cast<uint64_t>(total);
    return clock_ns > back ? clock_ns - back : 0;
}

GuestClock::Saved GuestClock::save() const {
    return Saved{m_origin_ns, now_ns(), m_tsc_offset.load(std::memory_order_relaxed), m_tsc_hz};
}

void GuestClock::restore(const Saved& s) {
    m_origin_ns = s.origin_ns;
    m_tsc_offset.store(s.tsc_offset, std::memory_order_relaxed);
    // now_ns() = raw - paused_total: choose paused_total so that it reads s.now_ns now (mod 2^64).
    set_pause_state(PauseState{raw_now_ns() - s.now_ns, 0});
}

void GuestClock::pause() {
    PauseState s = pause_state();
    if (s.paused_since != 0) return;
    s.paused_since = std::max<uint64_t>(raw_now_ns(), 1);
    set_pause_state(s);
}

void GuestClock::resume() {
    PauseState s = pause_state();
    if (s.paused_since == 0) return;
    const uint64_t now = raw_now_ns();
    s.paused_total += now > s.paused_since ? now - s.paused_since : 0;
    s.paused_since = 0;
    set_pause_state(s);
}

bool GuestClock::paused() const { return pause_state().paused_since != 0; }

GuestClock::GuestClock(uint64_t tsc_hz, NowFn now)
    : m_tsc_hz(tsc_hz == 0 ? 1 : tsc_hz), m_now(std::move(now)), m_origin_ns(now_ns()) {}

uint64_t GuestClock::ticks_in(uint64_t ns, uint64_t hz) {
    auto ticks = static_cast<unsigned __int128>(ns) * hz / kNsPerSecond;
    return ticks > std::numeric_limits<uint64_t>::max() ? std::numeric_limits<uint64_t>::max()
                                                         : static_cast<uint64_t>(ticks);
}

uint64_t GuestClock::ns_for_ticks(uint64_t ticks, uint64_t hz) {
    if (hz == 0) return std::numeric_limits<uint64_t>::max();
    auto ns = (static_cast<unsigned __int128>(ticks) * kNsPerSecond + hz - 1) / hz;
    return ns > std::numeric_limits<uint64_t>::max() ? std::numeric_limits<uint64_t>::max()
                                                      : static_cast<uint64_t>(ns);
}

uint64_t GuestClock::tsc_at(uint64_t ns) const {
    uint64_t elapsed = ns > m_origin_ns ? ns - m_origin_ns : 0;
    return ticks_in(elapsed, m_tsc_hz) + m_tsc_offset.load(std::memory_order_relaxed);
}

uint64_t GuestClock::ns_for_tsc(uint64_t tsc) const {
    uint64_t now = now_ns();
    if (tsc <= tsc_at(now)) return now;  // already reached
    // tsc > current value, so (tsc - offset) > ticks counted so far, also across offset wrap.
    uint64_t ticks = tsc - m_tsc_offset.load(std::memory_order_relaxed);
    uint64_t span = ns_for_ticks(ticks, m_tsc_hz);
    uint64_t max = std::numeric_limits<uint64_t>::max();
    return span > max - m_origin_ns ? max : m_origin_ns + span;
}

void GuestClock::set_tsc(uint64_t value) {
    uint64_t now = now_ns();
    uint64_t counted = ticks_in(now > m_origin_ns ? now - m_origin_ns : 0, m_tsc_hz);
    m_tsc_offset.store(value - counted, std::memory_order_relaxed);
}

}  // namespace popek::emu
