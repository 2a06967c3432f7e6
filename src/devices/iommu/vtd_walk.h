#pragma once
/// The DMA address translation of a VT-d unit in legacy mode (VT-d 3.x §3.4.2, §3.6): the root
/// table (256 root entries, §9.1) indexed by the requester's bus, the context table it points to
/// (256 context entries, §9.3) indexed by device/function, and the second-level page tables
/// (§9.8, 3 levels for the 39-bit AGAW) walked for the input address. Every structure is read
/// from guest RAM through GuestMemory: an entry outside RAM is a fault (root/context table or
/// paging entry access), never a host access outside guest RAM.
///
/// Checked as the spec lists (§7.1.3): present bits, reserved bits of present entries (address
/// bits above the host address width, root entry bits 11:1 and its upper 64 bits, context entry
/// bits 11:4, 71 and 127:88, paging entries' bit 11 and large pages' address bits below their
/// size), the translation type (00 translated, 10 pass-through; 01 needs device TLBs, which
/// this unit does not have), the address width (39-bit only), the input address against it, and
/// read/write permission at every level. Large pages: 2 MiB and 1 GiB (CAP.SLLPS).
#include <array>
#include <cstdint>

#include "devices/iommu/vtd_spec.h"
#include "memory/guest_memory.h"

namespace popek::devices::iommu::vtd {

struct Translation {
    bool ok = false;
    Fault fault{};
    bool fault_recording_disabled = false;   ///< the context entry's FPD: do not record this fault
    uint64_t address = 0;     ///< the output address of the input address (when ok)
    uint64_t remaining = 0;   ///< bytes from `address` to the end of its page (when ok)
};

/// Translates `iova` for `requester` (bus << 8 | devfn) through the root table at `root_table`.
Translation translate(const memory::GuestMemory& mem, uint64_t root_table, uint16_t requester, uint64_t iova, bool write);

}  // namespace popek::devices::iommu::vtd
