#pragma once
/// The PC board popek emulates in user space: the legacy devices on the pio/mmio buses and the
/// serial console wiring. (Interrupt controllers and the PIT belong to the engine: KVM's in-kernel
/// irqchip, or the own engine's models.)
#include <functional>
#include <memory>
#include <span>

#include "bus/bus.h"
#include "hv/hypervisor.h"
#include "memory/guest_memory.h"
#include "vmm/console.h"
#include "vmm/vm_lifecycle.h"
#include "vmm/vm_options.h"

namespace popek::devices::legacy {
class Uart8250;
class I8042;
class CmosRtc;
class AcpiPm;
}
namespace popek::devices::virtio {
class MmioDevices;
struct MmioDeviceInfo;
}

namespace popek::vmm {
class AcpiSleep;
class PciPlatform;

inline constexpr uint16_t kCom1Port = 0x3f8;
inline constexpr uint32_t kCom1Gsi = 4;
inline constexpr uint16_t kAcpiPmPort = 0x600;  ///< ACPI PM1a event/control + PM timer (acpi_pm.h)

class Board {
public:
    using SerialOut = std::function<void(std::span<const uint8_t>)>;
    static Result<std::unique_ptr<Board>> create(hv::Vm& vm, const memory::GuestMemory& mem, bus::Bus& pio,
                                                 bus::Bus& mmio, VmLifecycle& life, SerialOut serial_out,
                                                 const VmOptions& options);
    ~Board();
    /// Starts feeding the console into COM1 (tests' serial_input first, then serial_in_fd).
    /// `sink` overrides where input goes (the Xen PV console for --xen guests); default: COM1.
    using InputSink = std::function<size_t(std::span<const uint8_t>)>;
    /// `on_end` (optional): called once the console input has ended (no input fd, its EOF).
    Result<void> start_input(const VmOptions& options, InputSink sink = nullptr, std::function<void()> on_end = nullptr);
    void stop_input();
    /// Types Ctrl+Alt+Del on the i8042 keyboard (PUT /actions SendCtrlAltDel).
    void send_ctrl_alt_del();
    /// The virtio-mmio devices (window, GSI, type), for the ACPI DSDT.
    std::span<const devices::virtio::MmioDeviceInfo> virtio_devices() const;
    /// The devices a snapshot saves (src/vmm/vm_snapshot.cpp); virtio may be null (--xen).
    devices::legacy::Uart8250& uart() { return *m_uart; }
    devices::legacy::CmosRtc& cmos() { return *m_cmos; }
    devices::legacy::I8042& i8042() { return *m_i8042; }
    devices::legacy::AcpiPm& acpi_pm() { return *m_acpi_pm; }
    /// Suspend to RAM (acpi_sleep.h): the vCPU loop asks it after each exit.
    AcpiSleep& sleep() { return *m_sleep; }
    /// The virtio-mmio devices themselves (null when there are none), for FlushMetrics.
    devices::virtio::MmioDevices* virtio() { return m_virtio.get(); }
    /// The PCI bus and IOMMU (`--device`, `--iommu`), or null.
    PciPlatform* pci() { return m_pci.get(); }

private:
    Board() = default;
    std::shared_ptr<devices::legacy::Uart8250> m_uart;
    std::unique_ptr<devices::legacy::I8042> m_i8042;
    std::shared_ptr<devices::legacy::CmosRtc> m_cmos;
    std::shared_ptr<devices::legacy::AcpiPm> m_acpi_pm;
    std::unique_ptr<AcpiSleep> m_sleep;
    VmLifecycle* m_life = nullptr;
    std::unique_ptr<TerminalGuard> m_terminal;
    std::unique_ptr<InputPump> m_input;
    std::unique_ptr<devices::virtio::MmioDevices> m_virtio;
    std::unique_ptr<PciPlatform> m_pci;
};

}  // namespace popek::vmm
