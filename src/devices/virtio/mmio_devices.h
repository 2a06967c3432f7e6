#pragma once
/// Placement of virtio-mmio devices in the guest physical address space, and the list the ACPI
/// tables are built from (the Debian kernel only finds virtio-mmio devices through DSDT entries).
///
/// Device n gets the 4 KiB window at 0xd0000000 + n*0x1000 (inside the 3-4 GiB MMIO hole, far below
/// the IOAPIC at 0xfec00000 and the LAPIC at 0xfee00000) and the n-th GSI of 5, 6, 7, 10, 11, 12,
/// 14, 15 (ISA lines nothing else on popek's board drives; COM1 is GSI 4, the RTC 8, ACPI SCI 9).
#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "bus/bus.h"
#include "devices/irq.h"
#include "devices/virtio/mmio_transport.h"

namespace popek::devices::virtio {

inline constexpr uint64_t kMmioDevicesBase = 0xd000'0000;
inline constexpr std::array<uint32_t, 8> kMmioDeviceGsis = {5, 6, 7, 10, 11, 12, 14, 15};

/// One virtio-mmio device as the firmware tables describe it.
struct MmioDeviceInfo {
    uint32_t index;       ///< n: ACPI _UID, device name VRTn
    uint64_t base;        ///< guest physical address of the register window
    uint64_t size;        ///< window size (kMmioWindowSize)
    uint32_t gsi;         ///< level-triggered, active-high interrupt line
    uint32_t device_id;   ///< 5: virtio device type (1 net, 2 blk, 3 console, 4 rng)
};

/// Where device n goes; an error past the last GSI.
Result<MmioDeviceInfo> mmio_device_slot(uint32_t n);

/// The virtio-mmio devices of one VM: creates each transport, puts it on the mmio bus and keeps
/// the list for ACPI.
class MmioDevices {
public:
    /// `irq_for_gsi(gsi)` makes the IrqLine that drives `gsi`; `reporter` (optional) hears of
    /// every guest RAM write of the devices (MmioTransport).
    using IrqFactory = std::function<IrqLine(uint32_t gsi)>;
    MmioDevices(const memory::GuestMemory& mem, bus::Bus& mmio, IrqFactory irq_for_gsi, RamWriteReporter reporter = {})
        : m_mem(mem), m_mmio(mmio), m_irq_for_gsi(std::move(irq_for_gsi)), m_reporter(std::move(reporter)) {}

    Result<MmioDeviceInfo> add(std::shared_ptr<Device> device);
    std::span<const MmioDeviceInfo> devices() const { return m_info; }
    /// The transports, in devices() order (snapshots, src/snapshot/).
    std::span<const std::shared_ptr<MmioTransport>> transports() const { return m_transports; }
    /// The `i`th device itself (devices()[i]), for its counters.
    Device& device(size_t i) { return m_transports.at(i)->device(); }
    /// Stops every device's own threads (network, console input) before the VM goes away.
    void shutdown();

private:
    const memory::GuestMemory& m_mem;
    bus::Bus& m_mmio;
    IrqFactory m_irq_for_gsi;
    RamWriteReporter m_reporter;
    std::vector<MmioDeviceInfo> m_info;
    std::vector<std::shared_ptr<MmioTransport>> m_transports;
};

}  // namespace popek::devices::virtio
