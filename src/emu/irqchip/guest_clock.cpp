#include "emu/irqchip/guest_clock.h"

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
