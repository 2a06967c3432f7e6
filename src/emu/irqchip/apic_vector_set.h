#pragma once
/// A 256-bit set of interrupt vectors, laid out like the local APIC's IRR, ISR and TMR: eight
/// 32-bit registers, register n at offset base + 0x10 * n holds vectors 32n..32n+31
/// (SDM Vol. 3A 10.8.4, Figure 10-20).
#include <array>
#include <bit>
#include <cstdint>
#include <optional>

namespace popek::emu {

class ApicVectorSet {
public:
    void set(uint8_t vector) { m_words[vector / 32] |= bit(vector); }
    void clear(uint8_t vector) { m_words[vector / 32] &= ~bit(vector); }
    bool test(uint8_t vector) const { return (m_words[vector / 32] & bit(vector)) != 0; }
    void clear_all() { m_words.fill(0); }
    bool empty() const {
        for (uint32_t w : m_words)
            if (w != 0) return false;
        return true;
    }
    /// The highest vector in the set (the one with the highest priority), if any.
    std::optional<uint8_t> highest() const {
        for (int i = 7; i >= 0; --i) {
            uint32_t w = m_words[static_cast<size_t>(i)];
            if (w != 0) return static_cast<uint8_t>(i * 32 + 31 - std::countl_zero(w));
        }
        return std::nullopt;
    }
    /// Register `index` (0..7) as the guest reads it.
    uint32_t word(unsigned index) const { return index < 8 ? m_words[index] : 0; }
    void set_word(unsigned index, uint32_t w) {
        if (index < 8) m_words[index] = w;
    }

private:
    static uint32_t bit(uint8_t vector) { return uint32_t{1} << (vector % 32); }
    std::array<uint32_t, 8> m_words{};
};

}  // namespace popek::emu
