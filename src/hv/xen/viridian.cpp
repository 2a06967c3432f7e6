#include "hv/xen/viridian.h"

#include <algorithm>
#include <cstring>

namespace popek::hv::xen {
namespace {

constexpr uint64_t kPageMask = ~uint64_t{0xfff};
constexpr uint64_t kEnable = 1;   // bit 0 of HYPERCALL and REFERENCE_TSC (TLFS 3.13, 12.7.1)
constexpr uint32_t kLeafMax = 0x40000006;

// Partition privilege mask (TLFS 4.2.2 "Partition Privilege Flags"), low half: what is offered.
constexpr uint32_t kAccessPartitionReferenceCounter = 1u << 1;
constexpr uint32_t kAccessHypercallMsrs = 1u << 5;
constexpr uint32_t kAccessVpIndex = 1u << 6;
constexpr uint32_t kAccessPartitionReferenceTsc = 1u << 9;
// Implementation recommendations (TLFS 2.4.5, leaf 0x40000004 EAX): relaxed timing, as Xen.
constexpr uint32_t kRelaxedTiming = 1u << 5;

uint32_t chars(const char (&s)[5]) {
    uint32_t v;
    std::memcpy(&v, s, 4);
    return v;
}

}  // namespace

Viridian::Viridian(int vcpus) : m_vcpus(std::max(vcpus, 0)), m_stimers(static_cast<size_t>(std::max(vcpus, 0))) {}

uint64_t Viridian::tsc_scale(uint64_t tsc_hz) {
    if (tsc_hz <= 10'000'000) return 0;   // the scale would not fit 64 bits: the page stays invalid
    return static_cast<uint64_t>((static_cast<unsigned __int128>(10'000'000) << 64) / tsc_hz);
}

bool Viridian::cpuid(uint32_t leaf, uint32_t out[4]) const {
    if ((leaf & 0xffffff00u) != 0x40000000u) return false;
    out[0] = out[1] = out[2] = out[3] = 0;
    std::lock_guard lock(m_lock);
    switch (leaf) {
    case 0x40000000:   // TLFS 2.4.1: maximum leaf, vendor "Microsoft Hv"
        out[0] = kLeafMax;
        out[1] = chars("Micr");
        out[2] = chars("osof");
        out[3] = chars("t Hv");
        break;
    case 0x40000001: out[0] = chars("Hv#1"); break;   // TLFS 2.4.2: interface signature
    case 0x40000002:   // TLFS 2.4.3: version, once the guest set its OS id (Xen: 6.0 build 0x1772)
        if (m_guest_os_id != 0) {
            out[0] = 0x1772;
            out[1] = 6u << 16;
        }
        break;
    case 0x40000003:   // TLFS 2.4.4: privileges (EAX:EBX), features (EDX)
        out[0] = kAccessPartitionReferenceCounter | kAccessHypercallMsrs | kAccessVpIndex |
                 kAccessPartitionReferenceTsc;
        break;
    case 0x40000004:   // TLFS 2.4.5: recommendations; EBX 0xffffffff: never notify long spin waits
        out[0] = kRelaxedTiming;
        out[1] = 0xffffffffu;
        break;
    default: break;    // 5 (limits) and 6 (hardware features): none stated
    }
    return true;
}

std::optional<bool> Viridian::read_msr(int vcpu, uint32_t msr, const ViridianClock& now, uint64_t& value) const {
    if ((msr & 0xffffff00u) != 0x40000000u) return std::nullopt;
    std::lock_guard lock(m_lock);
    switch (msr) {
    case viridian_msr::kGuestOsId: value = m_guest_os_id; return true;
    case viridian_msr::kHypercall: value = m_hypercall; return true;
    case viridian_msr::kVpIndex: value = static_cast<uint64_t>(vcpu); return true;
    case viridian_msr::kTimeRefCount: value = reference_time(now); return true;
    case viridian_msr::kReferenceTsc: value = m_reference_tsc; return true;
    default: break;
    }
    if (msr >= viridian_msr::kStimer0Config && msr <= viridian_msr::kStimer3Count && vcpu >= 0 && vcpu < m_vcpus) {
        value = m_stimers[static_cast<size_t>(vcpu)][msr - viridian_msr::kStimer0Config];
        return true;
    }
    return false;
}

std::optional<bool> Viridian::write_msr(const memory::GuestMemory& mem, int vcpu, uint32_t msr, uint64_t value,
                                        const ViridianClock& now) {
    if ((msr & 0xffffff00u) != 0x40000000u) return std::nullopt;
    std::lock_guard lock(m_lock);
    switch (msr) {
    case viridian_msr::kGuestOsId:
        m_guest_os_id = value;
        return true;
    case viridian_msr::kHypercall:
        // Bit 1 (locked) keeps the value until reset (TLFS 3.13); reserved bits 11:2 read as 0.
        if (m_hypercall & 2) return true;
        m_hypercall = value & (kPageMask | 3);
        if (m_hypercall & kEnable) write_hypercall_page(mem);
        return true;
    case viridian_msr::kReferenceTsc:
        m_reference_tsc = value;
        if (value & kEnable) write_reference_tsc_page(mem, now);
        return true;
    default: break;   // VP_INDEX and TIME_REF_COUNT are read-only: #GP
    }
    if (msr >= viridian_msr::kStimer0Config && msr <= viridian_msr::kStimer3Count && vcpu >= 0 && vcpu < m_vcpus) {
        m_stimers[static_cast<size_t>(vcpu)][msr - viridian_msr::kStimer0Config] = value;
        return true;
    }
    return false;
}

void Viridian::write_hypercall_page(const memory::GuestMemory& mem) const {
    auto page = mem.slice(m_hypercall & kPageMask, 4096);
    if (!page) return;   // not guest RAM: nothing written (Xen: "Bad GMFN")
    std::fill(page->begin(), page->end(), uint8_t{0xcc});
    // xor %edx,%edx; mov $HV_STATUS_INVALID_HYPERCALL_CODE,%eax; ret: the status in RAX (64-bit)
    // or EDX:EAX (32-bit), TLFS 3.8 "Hypercall Result Value".
    static constexpr uint8_t kStub[] = {0x31, 0xd2, 0xb8, 0x02, 0x00, 0x00, 0x00, 0xc3};
    std::memcpy(page->data(), kStub, sizeof(kStub));
}

void Viridian::write_reference_tsc_page(const memory::GuestMemory& mem, const ViridianClock& now) {
    auto page = mem.slice(m_reference_tsc & kPageMask, sizeof(HvReferenceTscPage));
    if (!page) return;   // not guest RAM: nothing written (XSA-472-1)
    HvReferenceTscPage p{};
    p.tsc_scale = tsc_scale(now.tsc_hz);
    if (p.tsc_scale != 0) {
        // The guest's reference time and TIME_REF_COUNT agree now; both follow the guest clock.
        const auto from_tsc = static_cast<uint64_t>((static_cast<unsigned __int128>(now.tsc) * p.tsc_scale) >> 64);
        p.tsc_offset = static_cast<int64_t>(reference_time(now) - from_tsc);
        // A new sequence on every write, never 0 or 0xffffffff (the "invalid" values).
        do ++m_sequence;
        while (m_sequence == 0 || m_sequence == 0xffffffffu);
        p.tsc_sequence = m_sequence;
    }
    std::memcpy(page->data(), &p, sizeof(p));
}

}  // namespace popek::hv::xen
