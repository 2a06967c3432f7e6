#include "devices/pci/pci_config_space.h"

#include <bit>

namespace popek::devices::pci {

PciConfigSpace::PciConfigSpace(uint16_t vendor, uint16_t device, uint32_t class_code, uint8_t revision) {
    set_word(cfg::kVendorId, vendor);
    set_word(cfg::kDeviceId, device);
    m_bytes[cfg::kRevision] = revision;
    m_bytes[cfg::kClassCode] = static_cast<uint8_t>(class_code);
    m_bytes[cfg::kClassCode + 1] = static_cast<uint8_t>(class_code >> 8);
    m_bytes[cfg::kClassCode + 2] = static_cast<uint8_t>(class_code >> 16);
    m_bytes[cfg::kHeaderType] = 0x00;   // type 0, single function
    const uint16_t command = cfg::kCmdIo | cfg::kCmdMemory | cfg::kCmdBusMaster | cfg::kCmdParity | cfg::kCmdSerr |
                             cfg::kCmdIntxDisable;
    m_writable[cfg::kCommand] = static_cast<uint8_t>(command);
    m_writable[cfg::kCommand + 1] = static_cast<uint8_t>(command >> 8);
    m_write_clears[cfg::kStatus] = static_cast<uint8_t>(cfg::kStatusErrors);
    m_write_clears[cfg::kStatus + 1] = static_cast<uint8_t>(cfg::kStatusErrors >> 8);
    m_writable[cfg::kInterruptLine] = 0xff;
}

void PciConfigSpace::set_subsystem(uint16_t vendor, uint16_t id) {
    set_word(cfg::kSubsystemVendor, vendor);
    set_word(cfg::kSubsystemId, id);
}

bool PciConfigSpace::add_memory_bar(int index, uint32_t size) {
    if (index < 0 || index >= kBars || size < 16 || !std::has_single_bit(size)) return false;
    m_bar_sizes[static_cast<size_t>(index)] = size;
    const uint16_t at = static_cast<uint16_t>(cfg::kBar0 + 4 * index);
    set_dword(at, 0);   // memory space, 32-bit, not prefetchable: type bits 0
    const uint32_t writable = ~(size - 1);
    for (uint16_t i = 0; i < 4; ++i) m_writable[at + i] = static_cast<uint8_t>(writable >> (8 * i));
    return true;
}

void PciConfigSpace::set_interrupt(uint8_t pin, uint8_t line) {
    m_bytes[cfg::kInterruptPin] = pin;
    m_bytes[cfg::kInterruptLine] = line;
}

uint8_t PciConfigSpace::add_capability(uint8_t id, uint8_t length) {
    const unsigned at = (m_next_capability + 3u) & ~3u;
    if (length < 2 || at + length > kSize) return 0;
    const auto offset = static_cast<uint8_t>(at);
    m_bytes[offset] = id;
    m_bytes[offset + 1u] = 0;   // end of the list
    if (m_last_capability == 0) m_bytes[cfg::kCapabilities] = offset;
    else m_bytes[m_last_capability + 1u] = offset;
    m_last_capability = offset;
    m_next_capability = at + length;
    m_bytes[cfg::kStatus] |= static_cast<uint8_t>(cfg::kStatusCapList);
    return offset;
}

void PciConfigSpace::set_writable(uint16_t offset, uint8_t bits) {
    if (offset < kSize) m_writable[offset] = bits;
}

void PciConfigSpace::read(uint16_t offset, std::span<uint8_t> data) const {
    for (size_t i = 0; i < data.size(); ++i) {
        const size_t at = size_t{offset} + i;
        data[i] = at < kSize ? m_bytes[at] : 0xff;
    }
}

void PciConfigSpace::write(uint16_t offset, std::span<const uint8_t> data) {
    for (size_t i = 0; i < data.size(); ++i) {
        const size_t at = size_t{offset} + i;
        if (at >= kSize) return;
        const uint8_t v = data[i];
        uint8_t b = static_cast<uint8_t>((m_bytes[at] & ~m_writable[at]) | (v & m_writable[at]));
        b = static_cast<uint8_t>(b & ~(v & m_write_clears[at]));
        m_bytes[at] = b;
    }
}

uint16_t PciConfigSpace::word(uint16_t offset) const {
    return static_cast<uint16_t>(byte(offset) | byte(static_cast<uint16_t>(offset + 1)) << 8);
}

uint32_t PciConfigSpace::dword(uint16_t offset) const {
    return uint32_t{word(offset)} | uint32_t{word(static_cast<uint16_t>(offset + 2))} << 16;
}

void PciConfigSpace::set_word(uint16_t offset, uint16_t value) {
    set_byte(offset, static_cast<uint8_t>(value));
    set_byte(static_cast<uint16_t>(offset + 1), static_cast<uint8_t>(value >> 8));
}

void PciConfigSpace::set_dword(uint16_t offset, uint32_t value) {
    set_word(offset, static_cast<uint16_t>(value));
    set_word(static_cast<uint16_t>(offset + 2), static_cast<uint16_t>(value >> 16));
}

uint32_t PciConfigSpace::bar_size(int index) const {
    return index >= 0 && index < kBars ? m_bar_sizes[static_cast<size_t>(index)] : 0;
}

std::optional<uint64_t> PciConfigSpace::bar_address(int index) const {
    const uint32_t size = bar_size(index);
    if (size == 0) return std::nullopt;
    return dword(static_cast<uint16_t>(cfg::kBar0 + 4 * index)) & ~(size - 1);
}

}  // namespace popek::devices::pci
