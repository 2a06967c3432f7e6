#include "devices/iommu/vtd_walk.h"

namespace popek::devices::iommu::vtd {
namespace {

constexpr uint64_t kPageMask = ~uint64_t{0xfff};
/// Bits of an address field above the host address width (reserved, §9).
constexpr uint64_t kAboveHaw = ~kHostAddressMask & ~uint64_t{0};
/// §9.8: bits 63 and 61:52 of second-level entries are ignored; 62 (TM) is reserved without
/// device TLBs, as is 11 (SNP) without snoop control.
constexpr uint64_t kSlIgnored = 0xbff0'0000'0000'0000ull;
constexpr uint64_t kSlReserved = (kAboveHaw & ~kSlIgnored) | (uint64_t{1} << 11);
constexpr uint64_t kR = 1, kW = 2, kPs = 1u << 7;

Translation fault(Fault f, bool fpd = false) {
    Translation t;
    t.fault = f;
    t.fault_recording_disabled = fpd;
    return t;
}

}  // namespace

Translation translate(const memory::GuestMemory& mem, uint64_t root_table, uint16_t requester, uint64_t iova, bool write) {
    const unsigned bus = requester >> 8, devfn = requester & 0xff;
    // Root entry (§9.1): P bit 0, context-table pointer 63:12; upper 64 bits reserved (legacy).
    auto root = mem.read_obj<std::array<uint64_t, 2>>((root_table & kPageMask) + 16ull * bus);
    if (!root) return fault(Fault::RootTableAccess);
    if (!((*root)[0] & 1)) return fault(Fault::RootNotPresent);
    if (((*root)[0] & (0xffe | kAboveHaw)) || (*root)[1]) return fault(Fault::RootReserved);
    // Context entry (§9.3): P 0, FPD 1, T 3:2, SLPTPTR 63:12; AW 66:64, DID 87:72.
    auto context = mem.read_obj<std::array<uint64_t, 2>>(((*root)[0] & kPageMask) + 16ull * devfn);
    if (!context) return fault(Fault::ContextTableAccess);
    const uint64_t lo = (*context)[0], hi = (*context)[1];
    if (!(lo & 1)) return fault(Fault::ContextNotPresent);
    const bool fpd = (lo & 2) != 0;
    if ((lo & (0xff0 | kAboveHaw)) || (hi & 0xffff'ffff'ff00'0080ull)) return fault(Fault::ContextReserved, fpd);
    const unsigned type = (lo >> 2) & 3;
    if (type == 2) {   // pass-through (ECAP.PT)
        if (iova & ~kHostAddressMask) return fault(Fault::AddressBeyondMgaw, fpd);
        return Translation{true, {}, fpd, iova, 0x1000 - (iova & 0xfff)};
    }
    if (type != 0 || (hi & 7) != 1) return fault(Fault::ContextInvalid, fpd);   // 39-bit AGAW only
    if (iova >> kGuestAddressWidth) return fault(Fault::AddressBeyondMgaw, fpd);
    uint64_t table = lo & kPageMask;
    const uint64_t need = write ? kW : kR;
    for (int level = 3; level >= 1; --level) {
        const unsigned shift = 12 + 9 * static_cast<unsigned>(level - 1);
        auto entry = mem.read_obj<uint64_t>(table + 8 * ((iova >> shift) & 0x1ff));
        if (!entry) return fault(Fault::PagingEntryAccess, fpd);
        const uint64_t e = *entry;
        if (!(e & need)) return fault(write ? Fault::Write : Fault::Read, fpd);
        const bool leaf = level == 1 || (e & kPs);
        uint64_t reserved = kSlReserved;
        if (level == 3 && leaf) reserved |= 0x3fff'f000;   // 1 GiB page: address bits 29:12
        if (level == 2 && leaf) reserved |= 0x1f'f000;     // 2 MiB page: address bits 20:12
        if (e & reserved) return fault(Fault::PagingEntryReserved, fpd);
        if (leaf) {
            const uint64_t page_size = uint64_t{1} << shift;
            const uint64_t base = e & kHostAddressMask & ~(page_size - 1);
            const uint64_t offset = iova & (page_size - 1);
            return Translation{true, {}, fpd, base + offset, page_size - offset};
        }
        table = e & kHostAddressMask & kPageMask;
    }
    return fault(Fault::PagingEntryAccess, fpd);   // not reached: level 1 is always a leaf
}

}  // namespace popek::devices::iommu::vtd
