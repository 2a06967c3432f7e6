#pragma once
/// The PCI side of the board, present with `--device` or `--iommu` (docs/ARCHITECTURE.md "PCI and
/// VT-d"): a q35-like host bridge at 00:00.0 with configuration mechanism #1 at 0xCF8 (which takes
/// over the reset control register at 0xCF9), the `--device` functions from 00:02.0 on with their
/// BARs placed by popek in the MMIO window as firmware would, INTA# of slot S on GSI
/// 16 + (S % 4) (q35's PIRQA-D), MSIs through hv::Vm::signal_msi, and with `--iommu intel` the VT-d
/// unit at 0xfed90000, which translates the devices' DMA and remaps every interrupt.
#include <memory>
#include <vector>

#include "bus/bus.h"
#include "devices/pci/pci_bus.h"
#include "hv/hypervisor.h"
#include "memory/guest_memory.h"
#include "vmm/vm_options.h"

namespace popek::devices::pci {
class DmaSpace;
class Edu;
}
namespace popek::devices::iommu {
class VtdUnit;
}

namespace popek::vmm {

/// The host bridge's MMIO window for BARs: 256 MiB, between the virtio-mmio windows (0xd0000000)
/// and popek's test device (0xfe000000).
inline constexpr uint64_t kPciWindowBase = 0xe0000000;
inline constexpr uint64_t kPciWindowSize = 0x10000000;
inline constexpr unsigned kFirstDeviceSlot = 2;

class PciPlatform {
public:
    /// `reset_control`: the 0xCF9 register, which shares the configuration ports' range.
    static Result<std::unique_ptr<PciPlatform>> create(hv::Vm& vm, const memory::GuestMemory& mem, bus::Bus& pio,
                                                       bus::Bus& mmio, std::shared_ptr<bus::Device> reset_control,
                                                       const VmOptions& options);
    ~PciPlatform();
    /// The VT-d unit's base for the DMAR table, 0 without one.
    uint64_t dmar_unit() const;
    devices::pci::PciBus& bus() { return m_bus; }

private:
    PciPlatform() = default;
    devices::pci::PciBus m_bus;
    std::shared_ptr<devices::iommu::VtdUnit> m_vtd;
    std::unique_ptr<devices::pci::DmaSpace> m_direct;
};

}  // namespace popek::vmm
