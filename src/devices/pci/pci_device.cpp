#include "devices/pci/pci_device.h"

namespace popek::devices::pci {

MsiCapability MsiCapability::add(PciConfigSpace& config) {
    MsiCapability cap;
    cap.offset = config.add_capability(kId, kLength);
    if (cap.offset == 0) return cap;
    const uint16_t o = cap.offset;
    config.set_word(static_cast<uint16_t>(o + 2), 1u << 7);   // 64-bit address capable, 1 message
    config.set_writable(static_cast<uint16_t>(o + 2), 0x71);  // enable, multiple message enable
    config.set_writable(static_cast<uint16_t>(o + 4), 0xfc);  // DWORD-aligned address
    for (uint16_t i = 5; i < 14; ++i) config.set_writable(static_cast<uint16_t>(o + i), 0xff);
    return cap;
}

bool MsiCapability::enabled(const PciConfigSpace& config) const {
    return offset != 0 && (config.byte(static_cast<uint16_t>(offset + 2)) & 1) != 0;
}

hv::MsiMessage MsiCapability::message(const PciConfigSpace& config) const {
    if (offset == 0) return {};
    const uint16_t o = offset;
    return hv::MsiMessage{uint64_t{config.dword(static_cast<uint16_t>(o + 4))} |
                              uint64_t{config.dword(static_cast<uint16_t>(o + 8))} << 32,
                          config.word(static_cast<uint16_t>(o + 12))};
}

void PciDevice::config_read(uint16_t offset, std::span<uint8_t> data) {
    std::lock_guard lock(m_mutex);
    m_config.read(offset, data);
}

void PciDevice::config_write(uint16_t offset, std::span<const uint8_t> data) {
    std::lock_guard lock(m_mutex);
    m_config.write(offset, data);
    config_written(offset, data.size());
}

std::optional<std::pair<int, uint64_t>> PciDevice::decode(uint64_t gpa, uint64_t len) {
    std::lock_guard lock(m_mutex);
    if (!(m_config.command() & cfg::kCmdMemory) || len == 0) return std::nullopt;
    for (int bar = 0; bar < PciConfigSpace::kBars; ++bar) {
        auto base = m_config.bar_address(bar);
        if (!base || gpa < *base) continue;
        const uint64_t offset = gpa - *base, size = m_config.bar_size(bar);
        if (offset < size && len <= size - offset) return std::pair{bar, offset};
    }
    return std::nullopt;
}

void PciDevice::firmware_setup(std::span<const std::pair<int, uint64_t>> bars, uint8_t interrupt_line) {
    std::lock_guard lock(m_mutex);
    for (auto [bar, address] : bars)
        m_config.set_dword(static_cast<uint16_t>(cfg::kBar0 + 4 * bar), static_cast<uint32_t>(address));
    m_config.set_byte(cfg::kInterruptLine, interrupt_line);
    m_config.set_word(cfg::kCommand, static_cast<uint16_t>(m_config.command() | cfg::kCmdMemory));
}

uint32_t PciDevice::bar_size(int bar) {
    std::lock_guard lock(m_mutex);
    return m_config.bar_size(bar);
}

}  // namespace popek::devices::pci
