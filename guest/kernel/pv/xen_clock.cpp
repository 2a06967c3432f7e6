#include "pv/xen_clock.h"

#include "arch/cpu.h"
#include "arch/x86.h"
#include "common/format.h"
#include "pv/evtchn.h"
#include "pv/hypercall.h"

namespace pos::xen::clock {
namespace {

uint64_t g_tsc_khz = 0;
uint64_t g_ns_per_tick_32 = 0;   // nanoseconds per TSC tick, 32.32 fixed point (no 128-bit division)
uint64_t g_anchor_tsc = 0, g_anchor_ns = 0;
bool g_use_pvclock = false;
char g_description[64] = "none";
vcpu_runstate_info_t g_runstate;

/// Reads vcpu_time_info consistently: an odd version means an update in progress (xen.h).
bool read_pvclock(const vcpu_time_info_t& t, uint64_t& ns) {
    for (int attempt = 0; attempt < 1000; ++attempt) {
        uint32_t v0 = __atomic_load_n(&t.version, __ATOMIC_ACQUIRE);
        if ((v0 & 1) != 0) continue;
        uint64_t stamp = t.tsc_timestamp, system = t.system_time;
        uint32_t mul = t.tsc_to_system_mul;
        int8_t shift = t.tsc_shift;
        uint64_t tsc = x86::rdtsc();
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        if (__atomic_load_n(&t.version, __ATOMIC_ACQUIRE) != v0) continue;
        if (mul == 0) return false;
        uint64_t delta = tsc - stamp;
        delta = shift >= 0 ? delta << shift : delta >> -shift;
        ns = system + static_cast<uint64_t>((static_cast<unsigned __int128>(delta) * mul) >> 32);
        return true;
    }
    return false;
}

}  // namespace

bool init(const char** reason) {
    uint64_t ns = 0;
    if (read_pvclock(evtchn::vcpu_info(0)->time, ns)) {
        g_use_pvclock = true;
        format(g_description, sizeof g_description, "pvclock in vcpu_info");
        return true;
    }
    g_tsc_khz = tsc_khz_from_cpuid();
    if (g_tsc_khz == 0) {
        *reason = "no pvclock and no TSC frequency in CPUID 0x40000003";
        return false;
    }
    g_ns_per_tick_32 = (uint64_t{1000000} << 32) / g_tsc_khz;
    vcpu_register_runstate_memory_area_t area{};
    area.addr.v = &g_runstate;
    if (vcpu_op(VCPUOP_register_runstate_memory_area, static_cast<unsigned>(this_cpu()->id), &area) != 0) {
        *reason = "VCPUOP_register_runstate_memory_area failed";
        return false;
    }
    g_anchor_tsc = x86::rdtsc();
    g_anchor_ns = g_runstate.state_entry_time;
    format(g_description, sizeof g_description, "TSC at %lu kHz (CPUID 0x40000003)", g_tsc_khz);
    return true;
}

uint64_t now_ns() {
    uint64_t ns = 0;
    if (g_use_pvclock && read_pvclock(evtchn::vcpu_info(this_cpu()->id)->time, ns)) return ns;
    if (g_tsc_khz == 0) return 0;
    uint64_t delta = x86::rdtsc() - g_anchor_tsc;
    return g_anchor_ns + static_cast<uint64_t>((static_cast<unsigned __int128>(delta) * g_ns_per_tick_32) >> 32);
}

const char* describe() { return g_description; }

}  // namespace pos::xen::clock
