#pragma once
/// popek's PCI bus 0 behind a q35-like host bridge: up to 32 single-function devices, reached by
/// configuration mechanism #1 (ports 0xCF8/0xCFC, PCI Local Bus 3.0 §3.2.2.3.2) and, for their
/// memory BARs, through one MMIO window that the host bridge forwards to the bus.
///
/// There is no firmware: assign_resources() does what a BIOS does before the OS runs (kvm-unit-
/// tests' lib/pci.c reads the BARs it finds): each memory BAR is placed, naturally aligned, in the
/// window, memory decoding is enabled, and the interrupt line register names the GSI that the
/// device's INTA# drives. A BAR the guest moves outside the window is not decoded (the host bridge
/// forwards only its window), nor is one whose memory space enable is clear.
///
/// The device list is fixed before the VM runs, so lookups take no lock; each device locks itself.
#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <span>

#include "bus/device.h"
#include "devices/pci/pci_device.h"
#include "util/result.h"

namespace popek::devices::pci {

class PciBus {
public:
    static constexpr unsigned kSlots = 32;

    /// Puts `device` at 00:`slot`.0 (its requester ID becomes slot << 3); fails when taken.
    Result<void> plug(unsigned slot, std::shared_ptr<PciDevice> device, uint8_t interrupt_line);
    /// The BIOS's work (above): fails when the BARs do not fit in [base, base + size).
    Result<void> assign_resources(uint64_t base, uint64_t size);

    /// A configuration access to `offset` (0..255; bytes past 255 read 0xff and are not written)
    /// of bus `bus`, device `slot`, function `function`. Absent functions read all ones.
    void config_read(unsigned bus, unsigned slot, unsigned function, unsigned offset, std::span<uint8_t> data) const;
    void config_write(unsigned bus, unsigned slot, unsigned function, unsigned offset, std::span<const uint8_t> data) const;

    /// An access to the MMIO window: false when no BAR decodes it (reads then return all ones).
    bool mmio_read(uint64_t gpa, std::span<uint8_t> data) const;
    bool mmio_write(uint64_t gpa, std::span<const uint8_t> data) const;

    PciDevice* device(unsigned slot) const { return slot < kSlots ? m_slots[slot].device.get() : nullptr; }

private:
    struct Slot {
        std::shared_ptr<PciDevice> device;
        uint8_t interrupt_line = 0;
    };
    PciDevice* function(unsigned bus, unsigned slot, unsigned function) const;
    std::array<Slot, kSlots> m_slots{};
};

/// Configuration mechanism #1 at ports 0xCF8-0xCFF (PCI Local Bus 3.0 §3.2.2.3.2): a DWORD
/// access to 0xCF8 is CONFIG_ADDRESS (bit 31 enable, bus 23:16, device 15:11, function 10:8,
/// register 7:0); any access to 0xCFC-0xCFF is CONFIG_DATA for the register CONFIG_ADDRESS
/// names plus the port's offset. As QEMU's host bridges do (and kvm-unit-tests' lib/x86/asm/pci.h
/// relies on: it writes the register's low bits into CONFIG_ADDRESS and reads 0xCFC), bits 1:0 of
/// CONFIG_ADDRESS are kept and ORed with the port offset. Bits 30:24 read 0. With the enable bit
/// clear, CONFIG_DATA reads all ones and ignores writes. The PC's reset control register at 0xCF9
/// (byte accesses) shares the range and is forwarded to `reset_control`; other byte and word
/// accesses to 0xCF8-0xCFB are not claimed (all ones).
class PciConfigPorts final : public bus::Device {
public:
    static constexpr uint16_t kPort = 0xcf8;
    static constexpr uint16_t kSize = 8;
    PciConfigPorts(const PciBus& bus, std::shared_ptr<bus::Device> reset_control)
        : m_bus(bus), m_reset(std::move(reset_control)) {}
    std::string_view name() const override { return "pci-config"; }
    void read(uint64_t offset, std::span<uint8_t> data) override;
    void write(uint64_t offset, std::span<const uint8_t> data) override;

    uint32_t config_address() const { return m_address.load(); }

private:
    const PciBus& m_bus;
    std::shared_ptr<bus::Device> m_reset;
    std::atomic<uint32_t> m_address{0};
};

/// The host bridge's MMIO window (where assign_resources put the BARs), on the MMIO bus.
class PciMmioWindow final : public bus::Device {
public:
    PciMmioWindow(const PciBus& bus, uint64_t base) : m_bus(bus), m_base(base) {}
    std::string_view name() const override { return "pci-mmio-window"; }
    void read(uint64_t offset, std::span<uint8_t> data) override {
        if (!m_bus.mmio_read(m_base + offset, data)) std::fill(data.begin(), data.end(), uint8_t{0xff});
    }
    void write(uint64_t offset, std::span<const uint8_t> data) override { (void)m_bus.mmio_write(m_base + offset, data); }

private:
    const PciBus& m_bus;
    uint64_t m_base;
};

/// The q35 host bridge at 00:00.0 (Intel 82G33/P35 MCH: vendor 0x8086, device 0x29c0, class
/// 0x060000 host bridge), with QEMU's subsystem IDs. It has no BARs.
class HostBridge final : public PciDevice {
public:
    HostBridge();
    std::string_view name() const override { return "q35-host-bridge"; }
    void bar_read(int, uint64_t, std::span<uint8_t> data) override { std::fill(data.begin(), data.end(), uint8_t{0xff}); }
    void bar_write(int, uint64_t, std::span<const uint8_t>) override {}
};

}  // namespace popek::devices::pci
