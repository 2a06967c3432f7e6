#pragma once
/// VT-d interrupt remapping (VT-d 3.x chapter 5, §9.10) of one interrupt request, as a pure
/// function of guest RAM and the latched table pointer: the remappable-format MSI (§5.1.2.2:
/// address 0xFEE, handle[14:0] in bits 19:5, format bit 4, SHV bit 3, handle[15] bit 2; with SHV
/// the data's bits 15:0 are a subhandle added to the handle) selects an interrupt remapping table
/// entry (IRTE, 128 bits) whose vector, delivery mode, trigger mode, destination mode and
/// destination become a compatibility-format MSI. xAPIC mode only (EIME = 0): the destination is
/// IRTE bits 47:40, and bits 39:32 and 63:48 are reserved.
///
/// Checked (§5.1.4.1, fault reasons 20h-26h): the index against the table size, the IRTE in RAM,
/// its present bit, its reserved bits (14:12, 31:24, 127:84, the xAPIC destination's, and IM:
/// posted interrupts are not supported), and the requester against the IRTE's source-id by SVT
/// (01: the whole ID under the SQ mask of function bits; 10: bus range; 11 is reserved), except
/// for requests without a requester ID (the I/O APIC's, hv::kNoRequesterId).
#include <cstdint>

#include "devices/iommu/vtd_spec.h"
#include "hv/msi.h"
#include "memory/guest_memory.h"

namespace popek::devices::iommu::vtd {

struct InterruptTable {
    uint64_t base = 0;        ///< IRTA bits 63:12, latched by SIRTP
    uint32_t entries = 0;     ///< 2^(S+1)
};

struct RemapResult {
    bool ok = false;
    Fault fault{};
    bool fault_recording_disabled = false;   ///< the IRTE's FPD
    uint16_t index = 0;
    hv::MsiMessage msi;
};

/// Remaps a remappable-format request (address bit 4 set; the caller handles the others).
RemapResult remap_interrupt(const memory::GuestMemory& mem, const InterruptTable& table, uint32_t requester,
                            const hv::MsiMessage& request);

}  // namespace popek::devices::iommu::vtd
