#include "vmm/pci_platform.h"

#include "devices/iommu/vtd_unit.h"
#include "devices/pci/dma_space.h"
#include "devices/pci/edu.h"

namespace popek::vmm {

PciPlatform::~PciPlatform() = default;

uint64_t PciPlatform::dmar_unit() const { return m_vtd ? devices::iommu::vtd::kBase : 0; }

Result<std::unique_ptr<PciPlatform>> PciPlatform::create(hv::Vm& vm, const memory::GuestMemory& mem, bus::Bus& pio,
                                                         bus::Bus& mmio, std::shared_ptr<bus::Device> reset_control,
                                                         const VmOptions& options) {
    using namespace devices;
    std::unique_ptr<PciPlatform> p(new PciPlatform());
    auto wrote = [&vm](uint64_t gpa, uint64_t len) { vm.device_wrote_ram(gpa, len); };
    pci::DmaSpace* dma = nullptr;
    if (options.iommu) {
        p->m_vtd = std::make_shared<iommu::VtdUnit>(
            mem, [&vm](const hv::MsiMessage& msi) { (void)vm.signal_msi(hv::kNoRequesterId, msi, false); }, wrote);
        TRY_VOID(mmio.insert({iommu::vtd::kBase, iommu::vtd::kSize}, p->m_vtd));
        TRY_VOID(vm.set_interrupt_remapper(p->m_vtd));
        dma = p->m_vtd.get();
    } else {
        p->m_direct = std::make_unique<pci::DirectDma>(mem, wrote);
        dma = p->m_direct.get();
    }
    TRY_VOID(p->m_bus.plug(0, std::make_shared<pci::HostBridge>(), 0));
    unsigned slot = kFirstDeviceSlot;
    for (const std::string& name : options.pci_devices) {
        if (slot >= pci::PciBus::kSlots) return fail("--device: at most {} PCI devices", pci::PciBus::kSlots - kFirstDeviceSlot);
        if (name != "edu") return fail("--device '{}': unknown device (only 'edu')", name);
        const auto gsi = static_cast<uint32_t>(16 + slot % 4);   // INTA# of this slot (q35's PIRQA-D)
        auto edu = std::make_shared<pci::Edu>(
            *dma, [&vm, gsi](bool level) { (void)vm.set_irq_line_no_dma(gsi, level); },
            [&vm](uint16_t requester, const hv::MsiMessage& msi) { (void)vm.signal_msi(requester, msi, true); });
        TRY_VOID(p->m_bus.plug(slot, std::move(edu), static_cast<uint8_t>(gsi)));
        ++slot;
    }
    TRY_VOID(p->m_bus.assign_resources(kPciWindowBase, kPciWindowSize));
    TRY_VOID(pio.insert({pci::PciConfigPorts::kPort, pci::PciConfigPorts::kSize},
                        std::make_shared<pci::PciConfigPorts>(p->m_bus, std::move(reset_control))));
    TRY_VOID(mmio.insert({kPciWindowBase, kPciWindowSize}, std::make_shared<pci::PciMmioWindow>(p->m_bus, kPciWindowBase)));
    return p;
}

}  // namespace popek::vmm
