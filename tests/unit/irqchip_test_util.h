#pragma once
// Helpers shared by the irqchip unit tests: a hand-driven clock and 32-bit register access.
#include <array>
#include <cstdint>
#include <span>

#include "emu/irqchip/guest_clock.h"
#include "emu/irqchip/platform.h"

namespace popek::emu::testing {

/// Time moves only when a test says so.
struct FakeClock {
    uint64_t now = 5'000'000'000;  // not 0: "before the origin" paths stay distinct
    NowFn fn() {
        return [this] { return now; };
    }
    void advance(uint64_t ns) { now += ns; }
};

inline uint32_t apic_read32(CpuInterrupts& cpu, uint32_t offset) {
    std::array<uint8_t, 4> b{};
    cpu.apic_read(offset, b);
    return uint32_t{b[0]} | uint32_t{b[1]} << 8 | uint32_t{b[2]} << 16 | uint32_t{b[3]} << 24;
}

inline void apic_write32(CpuInterrupts& cpu, uint32_t offset, uint32_t value) {
    std::array<uint8_t, 4> b{static_cast<uint8_t>(value), static_cast<uint8_t>(value >> 8),
                             static_cast<uint8_t>(value >> 16), static_cast<uint8_t>(value >> 24)};
    cpu.apic_write(offset, b);
}

inline uint8_t inb(InterruptPlatform& p, uint16_t port) {
    std::array<uint8_t, 1> b{0};
    p.pio_read(port, b);
    return b[0];
}

inline void outb(InterruptPlatform& p, uint16_t port, uint8_t value) {
    std::array<uint8_t, 1> b{value};
    p.pio_write(port, b);
}

/// Software-enables the local APIC (SVR bit 8, spurious vector 0xff) as an OS does first.
inline void enable_apic(CpuInterrupts& cpu) { apic_write32(cpu, 0xf0, 0x1ff); }

}  // namespace popek::emu::testing
