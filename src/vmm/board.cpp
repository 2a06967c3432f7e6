#include "vmm/board.h"

#include <unistd.h>

#include "acpi/acpi_tables.h"
#include "devices/legacy/acpi_pm.h"
#include "devices/legacy/cmos_rtc.h"
#include "devices/legacy/debug_exit.h"
#include "devices/legacy/fw_cfg.h"
#include "devices/legacy/i8042.h"
#include "devices/legacy/pc_testdev.h"
#include "devices/legacy/post_port.h"
#include "devices/legacy/reset_control.h"
#include "devices/legacy/test_device.h"
#include "devices/legacy/uart_8250.h"
#include "devices/virtio/mmio_devices.h"
#include "vmm/acpi_sleep.h"
#include "vmm/io_devices.h"
#include "vmm/pci_platform.h"

namespace popek::vmm {
namespace {

/// Splits guest RAM into the part below 4 GiB and the part above, for the CMOS size registers.
std::pair<uint64_t, uint64_t> ram_split(const memory::GuestMemory& mem) {
    uint64_t low = 0, high = 0;
    for (const auto& r : mem.regions()) (r.base < memory::kHighRamStart ? low : high) += r.size;
    return {low, high};
}

/// QEMU's pc-testdev ports and iomem (devices/legacy/pc_testdev.h), for kvm-unit-tests.
Result<void> add_pc_testdev(hv::Vm& vm, bus::Bus& pio, bus::Bus& mmio) {
    using namespace devices::legacy;
    auto scratch = std::make_shared<PcTestdevBytes>("pc-testdev-ioport", PcTestdevBytes::kScratchSize);
    TRY_VOID(pio.insert({PcTestdevBytes::kScratchPort, PcTestdevBytes::kScratchSize}, scratch));
    TRY_VOID(pio.insert({PcTestdevBytes::kScratchAliasPort, PcTestdevBytes::kScratchSize}, scratch));
    TRY_VOID(pio.insert({PcTestdevFlushPage::kPort, PcTestdevFlushPage::kSize}, std::make_shared<PcTestdevFlushPage>()));
    auto set_line = [&vm](uint32_t line, bool level) { (void)vm.set_irq_line_no_dma(line, level); };
    TRY_VOID(pio.insert({PcTestdevIrqLines::kPort, PcTestdevIrqLines::kSize},
                        std::make_shared<PcTestdevIrqLines>(set_line)));
    TRY_VOID(mmio.insert({PcTestdevBytes::kIomemBase, PcTestdevBytes::kIomemSize},
                         std::make_shared<PcTestdevBytes>("pc-testdev-iomem", PcTestdevBytes::kIomemSize)));
    return {};
}

}  // namespace

Board::~Board() {
    stop_input();
    if (m_virtio) m_virtio->shutdown();
}

std::span<const devices::virtio::MmioDeviceInfo> Board::virtio_devices() const {
    if (!m_virtio) return {};
    return m_virtio->devices();
}

Result<std::unique_ptr<Board>> Board::create(hv::Vm& vm, const memory::GuestMemory& mem, bus::Bus& pio,
                                             bus::Bus& mmio, VmLifecycle& life, SerialOut serial_out,
                                             const VmOptions& options) {
    using namespace devices::legacy;
    std::unique_ptr<Board> board(new Board());
    board->m_life = &life;
    auto irq4 = [&vm](bool level) { (void)vm.set_irq_line_no_dma(kCom1Gsi, level); };
    board->m_uart = std::make_shared<Uart8250>(
        [out = std::move(serial_out)](uint8_t byte) { out(std::span<const uint8_t>(&byte, 1)); }, irq4);
    auto [low, high] = ram_split(mem);
    TRY_VOID(pio.insert({kCom1Port, 8}, board->m_uart));
    board->m_cmos = std::make_shared<CmosRtc>(low, high);
    TRY_VOID(pio.insert({0x70, 2}, board->m_cmos));
    board->m_i8042 = std::make_unique<I8042>(life);
    TRY_VOID(pio.insert({0x60, 1}, board->m_i8042->data_port()));
    TRY_VOID(pio.insert({0x64, 1}, board->m_i8042->command_port()));
    // ISA IRQ 1 is edge-triggered: one pulse per byte.
    board->m_i8042->set_keyboard_irq([&vm] {
        (void)vm.set_irq_line_no_dma(1, true);
        (void)vm.set_irq_line_no_dma(1, false);
    });
    TRY_VOID(pio.insert({0x80, 1}, std::make_shared<PostPort>()));
    TRY_VOID(pio.insert({0xf4, 4}, std::make_shared<DebugExit>(life)));
    auto reset_control = std::make_shared<ResetControl>(life);
    if (!options.pci_devices.empty() || options.iommu)   // 0xCF9 then shares the PCI configuration ports
        board->m_pci = TRY(PciPlatform::create(vm, mem, pio, mmio, reset_control, options));
    else
        TRY_VOID(pio.insert({0xcf9, 1}, reset_control));
    // The PM timer follows the guest's clock where the engine keeps one (stops while paused,
    // goes on across a snapshot).
    Board* b = board.get();
    board->m_acpi_pm = std::make_shared<AcpiPm>(
        life,
        [&vm]() -> std::optional<uint64_t> {
            if (auto s = vm.sample_tsc()) return s->host_ns;
            return std::nullopt;
        },
        [b] { b->m_sleep->request(); });
    board->m_sleep = std::make_unique<AcpiSleep>(mem, life, *board->m_cmos, *board->m_acpi_pm, acpi::kFacsAddr);
    TRY_VOID(pio.insert({kAcpiPmPort, AcpiPm::kSize}, board->m_acpi_pm));
    TRY_VOID(pio.insert({FwCfg::kPort, FwCfg::kSize},
                        std::make_shared<FwCfg>(mem.size(), static_cast<uint16_t>(options.cpus))));
    if (!options.xen) {
        // Every guest RAM write of a virtio device is reported (its chains and used rings), so
        // its exits and interrupts need not make the engine re-verify all its code.
        board->m_virtio = std::make_unique<devices::virtio::MmioDevices>(
            mem, mmio,
            [&vm](uint32_t gsi) {
                return devices::IrqLine([&vm, gsi](bool level) { (void)vm.set_irq_line_no_dma(gsi, level); });
            },
            [&vm](uint64_t gpa, uint64_t len) { vm.device_wrote_ram(gpa, len); });
        TRY_VOID(add_virtio_devices(*board->m_virtio, options));
    }
    if (options.test_device) {
        TRY_VOID(pio.insert({0x700, 8}, std::make_shared<TestDevice>(TestDevice::Kind::Pio)));
        TRY_VOID(mmio.insert({0xfe000000, 0x1000}, std::make_shared<TestDevice>(TestDevice::Kind::Mmio)));
        TRY_VOID(add_pc_testdev(vm, pio, mmio));
    }
    return board;
}

Result<void> Board::start_input(const VmOptions& options, InputSink sink, std::function<void()> on_end) {
    auto uart = m_uart;
    if (!sink) sink = [uart](std::span<const uint8_t> bytes) { return uart->push_input(bytes); };
    if (!options.serial_input.empty()) {
        auto bytes = std::span(reinterpret_cast<const uint8_t*>(options.serial_input.data()), options.serial_input.size());
        sink(bytes);
    }
    if (options.serial_in_fd < 0) {
        if (on_end) on_end();
        return {};
    }
    bool tty = ::isatty(options.serial_in_fd) != 0;
    if (tty) m_terminal = std::make_unique<TerminalGuard>(options.serial_in_fd);
    VmLifecycle* life = m_life;
    m_input = TRY(InputPump::start(options.serial_in_fd, tty, sink,
                                   [life] { life->request_exit(devices::ExitCause::ConsoleQuit, 0, "quit from console (Ctrl-A x)"); },
                                   std::move(on_end)));
    return {};
}

void Board::stop_input() {
    m_input.reset();
    m_terminal.reset();
}

void Board::send_ctrl_alt_del() { m_i8042->press_ctrl_alt_del(); }

}  // namespace popek::vmm
