#pragma once
/// A device on the pio or mmio bus. Devices see offsets into their own range, never absolute addresses.
#include <cstdint>
#include <span>
#include <string_view>

namespace popek::bus {

class Device {
public:
    virtual ~Device() = default;
    virtual std::string_view name() const = 0;
    /// Fills `data` (1, 2, 4 or 8 bytes) from register `offset`. Unbacked bits read as 0xff.
    virtual void read(uint64_t offset, std::span<uint8_t> data) = 0;
    virtual void write(uint64_t offset, std::span<const uint8_t> data) = 0;
    /// Whether an access may make the device write guest RAM (DMA, a ring, a completion). The
    /// conservative default is yes: after such an access the engine re-verifies decoded code.
    /// Register-only devices (UART, RTC, PM timer, ...) say no, and their exits cost nothing more.
    virtual bool writes_guest_ram() const { return true; }
};

/// Little-endian helpers for devices whose registers are wider than one byte.
inline uint64_t span_to_u64(std::span<const uint8_t> d) {
    uint64_t v = 0;
    for (size_t i = 0; i < d.size() && i < 8; ++i) v |= uint64_t{d[i]} << (8 * i);
    return v;
}
inline void u64_to_span(uint64_t v, std::span<uint8_t> d) {
    for (size_t i = 0; i < d.size() && i < 8; ++i) d[i] = static_cast<uint8_t>(v >> (8 * i));
}

}  // namespace popek::bus
