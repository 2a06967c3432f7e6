#pragma once
/// Message-signalled interrupts as devices send them, and the seam where an interrupt remapping
/// unit (VT-d, src/devices/iommu/) sits between them and the local APICs. Plain types: both the
/// engines (emu/irqchip) and the devices include this.
#include <cstdint>
#include <optional>

namespace popek::hv {

/// An MSI: the DWORD write of `data` to `address` that a PCI function sends (PCI Local Bus 3.0
/// §6.8.1; the address/data layout of SDM Vol. 3A 11.11: 0xFEE in address bits 31:20).
struct MsiMessage {
    uint64_t address = 0;
    uint32_t data = 0;
    bool operator==(const MsiMessage&) const = default;
};

/// The requester of a message that carries no PCI requester ID: popek's I/O APIC sends its
/// interrupts this way, as QEMU's does (so VT-d's source-ID checks do not apply to them).
inline constexpr uint32_t kNoRequesterId = 0x10000;

/// Remaps interrupt requests before they reach the APIC bus (Intel VT-d 3.x chapter 5).
class InterruptRemapper {
public:
    virtual ~InterruptRemapper() = default;
    /// What `message` from `requester` (a PCI bus/device/function number, or kNoRequesterId)
    /// becomes: a compatibility-format MSI to deliver, or nullopt when it is blocked (the remapper
    /// records the fault itself). Callable from any thread, also under the I/O APIC's lock.
    virtual std::optional<MsiMessage> remap(uint32_t requester, const MsiMessage& message) = 0;
};

}  // namespace popek::hv
