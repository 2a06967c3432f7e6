#pragma once
/// QEMU's educational PCI device "edu" (QEMU docs/specs/edu.rst, hw/misc/edu.c): vendor 0x1234,
/// device 0x11e8, revision 0x10, class 0x00ff, one 1 MiB memory BAR 0, INTA#, and an MSI
/// capability (64-bit, one message). kvm-unit-tests' intel_iommu test drives its DMA engine
/// through the IOMMU and raises its interrupts through the I/O APIC and MSI.
///
/// BAR 0 registers (edu.rst; accesses below 0x80 must be 4 bytes wide, from 0x80 4 or 8 bytes;
/// others read all ones and are ignored, as in QEMU):
///   0x00 RO  identification 0x010000ed          0x04 RW  liveness: reads the inverse of the write
///   0x08 RW  factorial: a write computes n!      0x20 RW  status: 0x01 computing (RO), 0x80 raise
///            (32 bits, wrapping) unless one is            an interrupt when a factorial is done
///            in progress
///   0x24 RO  interrupt status                    0x60 WO  raise: ORs the value into the status
///   0x64 WO  acknowledge: clears those bits      0x80/0x88/0x90 RW DMA source, destination, count
///   0x98 RW  DMA command: 0x01 start, 0x02 direction (1: device buffer -> RAM), 0x04 interrupt
///            0x100 when done
/// The DMA buffer is device addresses 0x40000-0x40fff; the RAM side is masked to 28 bits (QEMU's
/// default dma_mask) and goes through the DmaSpace as this function's requester ID. Differences
/// from QEMU, each the safer choice: the factorial and the DMA complete during the register
/// write (QEMU: a thread, a 100 ms timer; the guest polls the status either way); a transfer
/// whose buffer side leaves the 4 KiB buffer completes without moving data (QEMU aborts). DMA and
/// MSI need bus mastering (command bit 2), as on QEMU; a DMA that fails (not translated, not RAM)
/// moves nothing into the guest. An interrupt goes by MSI when it is enabled, else on INTA#
/// (level, until acknowledged; masked by the command register's INTx disable).
#include <array>
#include <cstdint>
#include <functional>

#include "devices/irq.h"
#include "devices/pci/dma_space.h"
#include "devices/pci/pci_device.h"

namespace popek::devices::pci {

class Edu final : public PciDevice {
public:
    static constexpr uint16_t kVendor = 0x1234, kDevice = 0x11e8;
    static constexpr uint32_t kBarSize = 1u << 20;
    static constexpr uint64_t kDmaBufferStart = 0x40000, kDmaBufferSize = 4096;
    static constexpr uint64_t kDmaMask = (uint64_t{1} << 28) - 1;
    /// Register offsets and bits (edu.rst).
    static constexpr uint64_t kRegId = 0x00, kRegLiveness = 0x04, kRegFactorial = 0x08, kRegStatus = 0x20,
                              kRegIrqStatus = 0x24, kRegIrqRaise = 0x60, kRegIrqAck = 0x64, kRegDmaSrc = 0x80,
                              kRegDmaDst = 0x88, kRegDmaCount = 0x90, kRegDmaCmd = 0x98;
    static constexpr uint32_t kStatusComputing = 0x01, kStatusIrqFactorial = 0x80;
    static constexpr uint64_t kDmaRun = 0x1, kDmaToRam = 0x2, kDmaIrq = 0x4;
    static constexpr uint32_t kFactorialIrq = 0x1, kDmaIrqValue = 0x100;

    /// Sends an MSI as this function (hv::Vm::signal_msi with its requester ID).
    using MsiSink = std::function<void(uint16_t requester, const hv::MsiMessage& msi)>;
    Edu(DmaSpace& dma, IrqLine intx, MsiSink msi);

    std::string_view name() const override { return "edu"; }
    void bar_read(int bar, uint64_t offset, std::span<uint8_t> data) override;
    void bar_write(int bar, uint64_t offset, std::span<const uint8_t> data) override;

    /// The 4 KiB DMA buffer (tests).
    std::array<uint8_t, kDmaBufferSize> buffer();

private:
    void config_written(uint16_t offset, size_t len) override;
    void write_register(uint64_t offset, uint64_t value);
    void run_dma();
    void raise(uint32_t bits);
    void lower(uint32_t bits);
    void update_intx();
    bool bus_master() const { return (m_config.command() & cfg::kCmdBusMaster) != 0; }

    DmaSpace& m_dma;
    IrqLine m_intx;
    MsiSink m_msi;
    MsiCapability m_msi_cap;
    bool m_intx_out = false;   ///< what INTA# drives now
    uint32_t m_liveness = 0, m_factorial = 0, m_status = 0, m_irq_status = 0;
    uint64_t m_dma_src = 0, m_dma_dst = 0, m_dma_count = 0, m_dma_cmd = 0;
    std::array<uint8_t, kDmaBufferSize> m_buffer{};
};

}  // namespace popek::devices::pci
