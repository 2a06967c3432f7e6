#include "memory/guest_memory.h"

#include "util/huge_mapping.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>

namespace popek::memory {

Result<GuestMemory> GuestMemory::create(uint64_t size) {
    if (size == 0) return fail("guest memory size must be non-zero");
    if (size % 4096 != 0) return fail("guest memory size {} is not a multiple of 4 KiB", size);
    GuestMemory mem;
    uint64_t low = std::min<uint64_t>(size, kMmioHoleStart);
    struct Part { GuestAddress base; uint64_t len; uint64_t off; };
    std::vector<Part> parts{{0, low, 0}};
    if (size > low) parts.push_back({kHighRamStart, size - low, low});
    for (const Part& p : parts) {
        // Transparent huge pages where the host allows them: a Linux boot first-touches
        // hundreds of MiB, one fault per 2 MiB instead of 512. A child never gets guest RAM.
        UniqueMapping map = TRY(map_huge_anonymous(p.len, "guest RAM", true));
        auto* host = static_cast<uint8_t*>(map.get());
        mem.m_maps.push_back(std::move(map));
        mem.m_regions.push_back(Region{p.base, p.len, host, p.off});
    }
    mem.m_size = size;
    return mem;
}

uint8_t* GuestMemory::host_ptr(GuestAddress gpa, uint64_t len) const {
    for (const Region& r : m_regions) {
        // Overflow-safe: gpa - base < size and len <= size - (gpa - base).
        if (gpa >= r.base && gpa - r.base < r.size && len <= r.size - (gpa - r.base))
            return r.host + (gpa - r.base);
    }
    return nullptr;
}

Result<std::span<uint8_t>> GuestMemory::slice(GuestAddress gpa, uint64_t len) const {
    uint8_t* p = host_ptr(gpa, len);
    if (p == nullptr) return fail("guest range [{:#x}, +{:#x}) is outside guest RAM", gpa, len);
    return std::span<uint8_t>(p, len);
}

Result<void> GuestMemory::read(GuestAddress gpa, std::span<uint8_t> out) const {
    auto s = TRY(slice(gpa, out.size()));
    std::memcpy(out.data(), s.data(), out.size());
    return {};
}

Result<void> GuestMemory::write(GuestAddress gpa, std::span<const uint8_t> in) const {
    auto s = TRY(slice(gpa, in.size()));
    std::memcpy(s.data(), in.data(), in.size());
    return {};
}

uint64_t GuestMemory::resident_bytes() const {
    const uint64_t page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
    uint64_t total = 0;
    std::vector<unsigned char> vec;
    for (const Region& r : m_regions) {
        vec.resize((r.size + page - 1) / page);
        if (::mincore(r.host, r.size, vec.data()) != 0) continue;
        for (unsigned char v : vec) total += (v & 1) ? page : 0;
    }
    return total;
}

}  // namespace popek::memory
