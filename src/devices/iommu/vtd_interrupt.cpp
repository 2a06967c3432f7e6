#include "devices/iommu/vtd_interrupt.h"

#include <array>

namespace popek::devices::iommu::vtd {
namespace {

RemapResult fault(Fault f, uint32_t index, bool fpd = false) {
    RemapResult r;
    r.fault = f;
    r.index = static_cast<uint16_t>(index);
    r.fault_recording_disabled = fpd;
    return r;
}

/// SVT = 01: which bits of the source-id are compared, by SQ (§9.10, table of SQ values).
constexpr uint16_t kSqMask[4] = {0xffff, 0xfffb, 0xfff9, 0xfff8};

}  // namespace

RemapResult remap_interrupt(const memory::GuestMemory& mem, const InterruptTable& table, uint32_t requester,
                            const hv::MsiMessage& request) {
    const uint64_t a = request.address;
    uint32_t index = static_cast<uint32_t>(((a >> 5) & 0x7fff) | ((a >> 2) & 1) << 15);
    if (a >> 32) return fault(Fault::IrRequestReserved, index);
    if (a & (1u << 3)) index += request.data & 0xffff;   // SHV: subhandle
    if (index >= table.entries) return fault(Fault::IrIndexOutOfRange, index);
    auto irte = mem.read_obj<std::array<uint64_t, 2>>(table.base + 16ull * index);
    if (!irte) return fault(Fault::IrTableAccess, index);
    const uint64_t lo = (*irte)[0], hi = (*irte)[1];
    if (!(lo & 1)) return fault(Fault::IrEntryNotPresent, index);
    const bool fpd = (lo & 2) != 0;
    // Reserved: 14:12, IM (15: posted), 31:24, the xAPIC destination's 39:32 and 63:48, 127:84.
    constexpr uint64_t kLoReserved = 0xffff'00ff'ff00'f000ull;
    if ((lo & kLoReserved) || (hi >> 20)) return fault(Fault::IrEntryReserved, index, fpd);
    const uint16_t sid = static_cast<uint16_t>(hi & 0xffff);
    const unsigned sq = (hi >> 16) & 3, svt = (hi >> 18) & 3;
    if (svt == 3) return fault(Fault::IrEntryReserved, index, fpd);
    if (requester != hv::kNoRequesterId) {
        const auto rid = static_cast<uint16_t>(requester);
        if (svt == 1 && (rid & kSqMask[sq]) != (sid & kSqMask[sq])) return fault(Fault::IrSourceIdMismatch, index, fpd);
        if (svt == 2 && ((rid >> 8) < (sid >> 8) || (rid >> 8) > (sid & 0xff)))
            return fault(Fault::IrSourceIdMismatch, index, fpd);
    }
    RemapResult r;
    r.ok = true;
    r.index = static_cast<uint16_t>(index);
    r.fault_recording_disabled = fpd;
    const uint64_t dest = (lo >> 40) & 0xff;
    const uint64_t dest_mode = (lo >> 2) & 1, redirection_hint = (lo >> 3) & 1;
    r.msi.address = 0xfee00000ull | dest << 12 | redirection_hint << 3 | dest_mode << 2;
    const uint32_t vector = static_cast<uint32_t>((lo >> 16) & 0xff), delivery = static_cast<uint32_t>((lo >> 5) & 7);
    const uint32_t level = static_cast<uint32_t>((lo >> 4) & 1);
    r.msi.data = vector | delivery << 8 | level << 15 | level << 14;   // level-triggered: assert
    return r;
}

}  // namespace popek::devices::iommu::vtd
