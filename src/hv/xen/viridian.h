#pragma once
/// Viridian: the Hyper-V interface Xen offers an HVM guest whose configuration says `viridian`
/// (Microsoft Hypervisor Top Level Functional Specification, "TLFS"), as popek offers it to a
/// `--xen --viridian` guest (docs/pv.md "Viridian"). What is offered:
/// - CPUID 0x40000000-0x40000006 (TLFS 2.4 "Hypervisor CPUID leaves"): "Microsoft Hv", "Hv#1",
///   the version once the guest named itself, the partition privileges of what follows, the
///   recommendations, zero limits and hardware features. Xen's own leaves move to 0x40000100 and
///   its hypercall-page MSR to 0x40000200 (hv/xen/xen_personality.h XenLayout).
/// - The MSRs GUEST_OS_ID, HYPERCALL (TLFS 3.13 "Establishing the hypercall interface"),
///   VP_INDEX, TIME_REF_COUNT (TLFS 12.4 "Partition Reference Counter": 100 ns units since the
///   VM began, guest time) and REFERENCE_TSC with the reference TSC page (TLFS 12.7 "Partition
///   Reference Time Enlightenment", HvReferenceTscPage below).
/// - The synthetic timer MSRs STIMER0-3 CONFIG/COUNT hold what the guest writes but never expire:
///   a timer's expiry is a message through the SynIC (TLFS 11), which popek does not offer (its
///   MSRs are #GP), so there is nothing to deliver, as on Xen when the SynIC message page is not
///   mapped (XSA-472). Not advertised in CPUID.
/// - No Hyper-V hypercall is implemented: the hypercall page returns
///   HV_STATUS_INVALID_HYPERCALL_CODE for every call (no hypercall privilege is advertised).
/// Every other MSR in 0x40000000-0x400000ff is #GP, as on Xen for a feature not enabled.
#include <array>
#include <cstdint>
#include <mutex>
#include <optional>
#include <vector>

#include "memory/guest_memory.h"

namespace popek::hv::xen {

/// The reference TSC page (TLFS 12.7.3 "Format of the Reference TSC Page"): the guest computes
/// ReferenceTime (100 ns units) = ((TSC * tsc_scale) >> 64) + tsc_offset while tsc_sequence is
/// neither 0 nor 0xffffffff (both mean "not valid: read the TIME_REF_COUNT MSR"), re-reading
/// when tsc_sequence changed under it.
struct HvReferenceTscPage {
    uint32_t tsc_sequence;
    uint32_t reserved1;
    uint64_t tsc_scale;
    int64_t tsc_offset;
    uint64_t reserved2[509];
};
static_assert(sizeof(HvReferenceTscPage) == 4096);

namespace viridian_msr {
inline constexpr uint32_t kGuestOsId = 0x40000000;
inline constexpr uint32_t kHypercall = 0x40000001;
inline constexpr uint32_t kVpIndex = 0x40000002;
inline constexpr uint32_t kTimeRefCount = 0x40000020;
inline constexpr uint32_t kReferenceTsc = 0x40000021;
inline constexpr uint32_t kStimer0Config = 0x400000b0;   ///< CONFIG/COUNT pairs up to 0x400000b7
inline constexpr uint32_t kStimer3Count = 0x400000b7;
}  // namespace viridian_msr

/// The guest's clock at the moment of an MSR access: its TSC rate and reading, and guest time
/// in ns since the VM began (the engine's guest clock).
struct ViridianClock {
    uint64_t tsc_hz = 0;
    uint64_t tsc = 0;
    uint64_t ns = 0;
};

/// One VM's Viridian state; every vCPU thread calls in (one lock).
class Viridian {
public:
    explicit Viridian(int vcpus);

    /// CPUID `leaf`: false outside 0x40000000-0x400000ff; zeros past 0x40000006.
    bool cpuid(uint32_t leaf, uint32_t out[4]) const;
    /// nullopt: not a Viridian MSR; true: done; false: #GP.
    std::optional<bool> read_msr(int vcpu, uint32_t msr, const ViridianClock& now, uint64_t& value) const;
    /// A page the guest names outside its RAM is not written (the MSR still holds the value, as
    /// Xen keeps it): nothing a guest writes reaches host memory or stops popek.
    std::optional<bool> write_msr(const memory::GuestMemory& mem, int vcpu, uint32_t msr, uint64_t value,
                                  const ViridianClock& now);

    /// TIME_REF_COUNT at `now`: guest ns / 100.
    static uint64_t reference_time(const ViridianClock& now) { return now.ns / 100; }
    /// tsc_scale for a TSC of `tsc_hz`: 10^7 * 2^64 / tsc_hz (100 ns units per tick, 64.64 fixed).
    static uint64_t tsc_scale(uint64_t tsc_hz);

private:
    void write_hypercall_page(const memory::GuestMemory& mem) const;
    void write_reference_tsc_page(const memory::GuestMemory& mem, const ViridianClock& now);

    mutable std::mutex m_lock;
    int m_vcpus;
    uint64_t m_guest_os_id = 0;
    uint64_t m_hypercall = 0;
    uint64_t m_reference_tsc = 0;
    uint32_t m_sequence = 0;
    std::vector<std::array<uint64_t, 8>> m_stimers;   ///< per vCPU: CONFIG, COUNT of timers 0-3
};

}  // namespace popek::hv::xen
