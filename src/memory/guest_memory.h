#pragma once
/// Guest physical memory: private anonymous regions (transparent huge pages where the host
/// allows them), every access bounds-checked.
#include <cstdint>
#include <cstring>
#include <span>
#include <type_traits>
#include <vector>

#include "util/fd.h"
#include "util/result.h"

namespace popek::memory {

using GuestAddress = uint64_t;

struct Region {
    GuestAddress base;
    uint64_t size;
    uint8_t* host;        ///< host mapping of [base, base+size)
    uint64_t ram_offset;  ///< offset of this region in guest RAM, the regions one after another
};

/// Layout of a PC: RAM below the 32-bit MMIO hole, the rest above 4 GiB.
inline constexpr GuestAddress kMmioHoleStart = 0xC000'0000;  // 3 GiB
inline constexpr GuestAddress kHighRamStart = 0x1'0000'0000;  // 4 GiB

class GuestMemory {
public:
    /// Creates `size` bytes of RAM laid out around the MMIO hole. Pages are touched lazily.
    static Result<GuestMemory> create(uint64_t size);

    GuestMemory(GuestMemory&&) noexcept = default;
    GuestMemory& operator=(GuestMemory&&) noexcept = default;

    uint64_t size() const { return m_size; }
    std::span<const Region> regions() const { return m_regions; }

    /// Host view of [gpa, gpa+len) if it lies inside one region; an error otherwise.
    Result<std::span<uint8_t>> slice(GuestAddress gpa, uint64_t len) const;
    /// Host pointer for [gpa, gpa+len) or nullptr; the fast path for engines.
    uint8_t* host_ptr(GuestAddress gpa, uint64_t len) const;
    bool contains(GuestAddress gpa, uint64_t len) const { return host_ptr(gpa, len) != nullptr; }

    Result<void> read(GuestAddress gpa, std::span<uint8_t> out) const;
    Result<void> write(GuestAddress gpa, std::span<const uint8_t> in) const;

    template <class T>
    Result<T> read_obj(GuestAddress gpa) const {
        static_assert(std::is_trivially_copyable_v<T>);
        T value;
        TRY_VOID(read(gpa, std::span(reinterpret_cast<uint8_t*>(&value), sizeof(T))));
        return value;
    }
    template <class T>
    Result<void> write_obj(GuestAddress gpa, const T& value) const {
        static_assert(std::is_trivially_copyable_v<T>);
        return write(gpa, std::span(reinterpret_cast<const uint8_t*>(&value), sizeof(T)));
    }

    /// Bytes of guest RAM the host has actually backed (resident), from mincore().
    uint64_t resident_bytes() const;

private:
    GuestMemory() = default;
    std::vector<UniqueMapping> m_maps;
    std::vector<Region> m_regions;
    uint64_t m_size = 0;
};

}  // namespace popek::memory
