#pragma once
/// Xen's paravirtual clock (xen.h struct vcpu_time_info; the scale Xen's time.c computes): a guest
/// turns a TSC reading into nanoseconds as
///   system_time + ((tsc - tsc_timestamp) << tsc_shift (>> if negative)) * tsc_to_system_mul >> 32.
/// The engine owns the clocks; this computes the scale and the conversion both sides must agree on.
#include <cstdint>

namespace popek::pv {

struct PvclockScale {
    uint32_t mul = 0;  ///< tsc_to_system_mul: a 32.32 fraction
    int8_t shift = 0;  ///< tsc_shift
};

/// The scale for a TSC running at `tsc_hz` (Xen's set_time_scale): mul in [2^31, 2^32).
PvclockScale pvclock_scale(uint64_t tsc_hz);
/// Nanoseconds for `tsc_delta` ticks at `scale`, as the guest computes them.
uint64_t pvclock_delta_ns(uint64_t tsc_delta, PvclockScale scale);

/// The fields of vcpu_time_info for a TSC at `tsc_hz` that reads `tsc` at Xen system time
/// `system_time_ns`.
struct VcpuTime {
    uint64_t tsc_timestamp = 0;
    uint64_t system_time = 0;
    PvclockScale scale;
};
VcpuTime pvclock_time(uint64_t tsc_hz, uint64_t tsc, uint64_t system_time_ns);

/// shared_info's wall clock (xen.h wc_sec/wc_nsec): the Unix time at which Xen system time was 0,
/// given the Unix time `unix_now_ns` at system time `system_time_ns`.
struct WallClock {
    uint64_t sec = 0;
    uint32_t nsec = 0;
};
WallClock wallclock_at_boot(uint64_t unix_now_ns, uint64_t system_time_ns);

}  // namespace popek::pv
