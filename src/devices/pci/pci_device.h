#pragma once
/// A PCI function on popek's bus 0: its configuration space and the memory BARs it decodes, under
/// one lock (the device's registers share it). The host bridge (pci_bus.h) routes configuration
/// cycles and accesses to the MMIO window here.
#include <cstdint>
#include <mutex>
#include <optional>
#include <span>
#include <string_view>

#include "devices/pci/pci_config_space.h"
#include "hv/msi.h"

namespace popek::devices::pci {

/// MSI capability, 64-bit address, one message, no per-vector masking (PCI Local Bus 3.0
/// §6.8.1.1-6.8.1.5): control at +2 (enable bit 0 and multiple message enable 6:4 writable),
/// message address at +4 (bits 1:0 read 0), upper address at +8, data at +12 (16 bits).
struct MsiCapability {
    static constexpr uint8_t kId = 0x05;
    static constexpr uint8_t kLength = 14;
    uint8_t offset = 0;   ///< 0: absent

    /// Appends the capability to `config` and declares its writable bits.
    static MsiCapability add(PciConfigSpace& config);
    bool enabled(const PciConfigSpace& config) const;
    hv::MsiMessage message(const PciConfigSpace& config) const;
};

class PciDevice {
public:
    explicit PciDevice(PciConfigSpace config) : m_config(config) {}
    virtual ~PciDevice() = default;
    virtual std::string_view name() const = 0;

    /// Configuration cycles (PciBus): byte-wise, `offset` + size within 256 (the bus checks).
    void config_read(uint16_t offset, std::span<uint8_t> data);
    void config_write(uint16_t offset, std::span<const uint8_t> data);

    /// The memory BAR that decodes [gpa, gpa + len) with memory space enabled, and the offset in
    /// it; nullopt when none does (disabled, elsewhere, or straddling its end).
    std::optional<std::pair<int, uint64_t>> decode(uint64_t gpa, uint64_t len);
    virtual void bar_read(int bar, uint64_t offset, std::span<uint8_t> data) = 0;
    virtual void bar_write(int bar, uint64_t offset, std::span<const uint8_t> data) = 0;

    /// What firmware does before the OS runs (PciBus::assign_resources): places BAR `bar` at
    /// `address`, writes the interrupt line, enables memory decoding.
    void firmware_setup(std::span<const std::pair<int, uint64_t>> bars, uint8_t interrupt_line);

    /// Bus << 8 | device << 3 | function, set when plugged in.
    uint16_t requester_id() const { return m_requester_id; }
    void set_requester_id(uint16_t rid) { m_requester_id = rid; }
    /// BAR sizes (firmware's resource assignment).
    uint32_t bar_size(int bar);

protected:
    /// After a guest configuration write of [offset, offset + len), under m_mutex.
    virtual void config_written(uint16_t offset, size_t len) {
        (void)offset;
        (void)len;
    }

    std::mutex m_mutex;
    PciConfigSpace m_config;

private:
    uint16_t m_requester_id = 0;
};

}  // namespace popek::devices::pci
