#pragma once
/// Bounds-checked little-endian reads from an untrusted byte image. A read past the end
/// yields nullopt, never an out-of-bounds access.
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <type_traits>

namespace popek::loader {

/// True when [offset, offset+len) lies inside a buffer of `size` bytes (overflow-safe).
constexpr bool range_fits(uint64_t offset, uint64_t len, uint64_t size) {
    return offset <= size && len <= size - offset;
}

/// Reads an unsigned little-endian integer of type T at `offset`.
template <class T>
std::optional<T> read_le(std::span<const uint8_t> bytes, uint64_t offset) {
    static_assert(std::is_unsigned_v<T>);
    if (!range_fits(offset, sizeof(T), bytes.size())) return std::nullopt;
    T value = 0;
    for (size_t i = 0; i < sizeof(T); ++i) value |= static_cast<T>(T{bytes[offset + i]} << (8 * i));
    return value;
}

/// Same, for a caller that has already checked the range.
template <class T>
T read_le_unchecked(std::span<const uint8_t> bytes, uint64_t offset) {
    return *read_le<T>(bytes, offset);
}

/// Rounds `value` up to a multiple of `align` (a power of two); nullopt on overflow.
constexpr std::optional<uint64_t> align_up(uint64_t value, uint64_t align) {
    uint64_t mask = align - 1;
    if (value > UINT64_MAX - mask) return std::nullopt;
    return (value + mask) & ~mask;
}

constexpr uint64_t align_down(uint64_t value, uint64_t align) { return value & ~(align - 1); }

}  // namespace popek::loader
