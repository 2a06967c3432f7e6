#pragma once
/// Xen system time (nanoseconds, the clock of singleshot timer deadlines and SCHEDOP_poll
/// timeouts). Source, in order:
///  1. the pvclock in this vCPU's vcpu_info (xen.h struct vcpu_time_info), once the hypervisor
///     publishes it (tsc_to_system_mul != 0), read with the version protocol;
///  2. otherwise the TSC, at the frequency the Xen TSC CPUID leaf (base+3, ECX, kHz) reports,
///     anchored once to Xen system time read from the runstate area (vcpu.h: state_entry_time
///     is system time, filled at VCPUOP_register_runstate_memory_area).
#include <stdint.h>

namespace pos::xen::clock {

/// Picks the source; false with a reason if none is usable.
bool init(const char** reason);
uint64_t now_ns();
/// "pvclock" or "tsc at N kHz from CPUID 0x40000003".
const char* describe();

}  // namespace pos::xen::clock
