#include "pv/pvclock.h"

namespace popek::pv {

PvclockScale pvclock_scale(uint64_t tsc_hz) {
    constexpr uint64_t kNsPerSec = 1'000'000'000;
    if (tsc_hz == 0) return {};
    uint64_t tps = tsc_hz;
    int shift = 0;
    while (tps > 2 * kNsPerSec) {
        tps >>= 1;
        --shift;
    }
    while (tps <= kNsPerSec) {
        tps <<= 1;
        ++shift;
    }
    // (1e9 << 32) / tps with tps in (1e9, 2e9]: fits 32 bits.
    auto mul = static_cast<uint32_t>((kNsPerSec << 32) / tps);
    return PvclockScale{mul, static_cast<int8_t>(shift)};
}

uint64_t pvclock_delta_ns(uint64_t tsc_delta, PvclockScale scale) {
    if (scale.shift < 0)
        tsc_delta >>= -scale.shift;
    else
        tsc_delta <<= scale.shift;
    return static_cast<uint64_t>((static_cast<unsigned __int128>(tsc_delta) * scale.mul) >> 32);
}

VcpuTime pvclock_time(uint64_t tsc_hz, uint64_t tsc, uint64_t system_time_ns) {
    return VcpuTime{tsc, system_time_ns, pvclock_scale(tsc_hz)};
}

WallClock wallclock_at_boot(uint64_t unix_now_ns, uint64_t system_time_ns) {
    constexpr uint64_t kNsPerSec = 1'000'000'000;
    uint64_t boot = unix_now_ns > system_time_ns ? unix_now_ns - system_time_ns : 0;
    return WallClock{boot / kNsPerSec, static_cast<uint32_t>(boot % kNsPerSec)};
}

}  // namespace popek::pv
