#include "replay/memory_hash.h"

#include <fcntl.h>
#include <sodium.h>
#include <unistd.h>

#include <cstring>
#include <vector>

namespace popek::replay {
namespace {

constexpr uint64_t kPage = 4096;
constexpr uint64_t kPresent = uint64_t{1} << 63;
constexpr uint64_t kSwapped = uint64_t{1} << 62;

/// Reads the pagemap entries of `count` pages from `va` (lseek + read: the main thread's
/// syscall filter allows those). False: unknown, read the pages.
bool read_pagemap(int fd, uint64_t va, std::vector<uint64_t>& out, size_t count) {
    out.resize(count);
    if (::lseek(fd, static_cast<off_t>(va / kPage * 8), SEEK_SET) < 0) return false;
    size_t done = 0;
    auto* bytes = reinterpret_cast<uint8_t*>(out.data());
    while (done < count * 8) {
        const ssize_t n = ::read(fd, bytes + done, count * 8 - done);
        if (n <= 0) return false;
        done += static_cast<size_t>(n);
    }
    return true;
}

}  // namespace

bool page_is_zero(const uint8_t* p) {
    uint64_t any = 0;
    for (size_t k = 0; k < kPage; k += 8) {
        uint64_t w;
        std::memcpy(&w, p + k, 8);
        any |= w;
    }
    return any == 0;
}

MemoryHasher::MemoryHasher() : m_pagemap(::open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC)) {}

std::array<uint8_t, 32> MemoryHasher::hash(const memory::GuestMemory& mem) const {
    crypto_generichash_state st;
    crypto_generichash_init(&st, nullptr, 0, 32);
    m_pages_read = 0;
    constexpr size_t kChunk = 4096;   // pages per pagemap read (32 KiB of entries)
    std::vector<uint64_t> entries;
    for (const memory::Region& r : mem.regions()) {
        const uint64_t pages = r.size / kPage;
        for (uint64_t first = 0; first < pages; first += kChunk) {
            const size_t n = static_cast<size_t>(std::min<uint64_t>(kChunk, pages - first));
            const uint64_t va = reinterpret_cast<uintptr_t>(r.host) + first * kPage;
            const bool known = m_pagemap.valid() && va % kPage == 0 && read_pagemap(m_pagemap.get(), va, entries, n);
            for (size_t i = 0; i < n; ++i) {
                // Neither present nor swapped out: never touched, zero (private anonymous memory).
                if (known && !(entries[i] & (kPresent | kSwapped))) continue;
                const uint8_t* p = r.host + (first + i) * kPage;
                ++m_pages_read;
                if (page_is_zero(p)) continue;
                uint8_t gpa[8];
                const uint64_t a = r.base + (first + i) * kPage;
                for (size_t b = 0; b < 8; ++b) gpa[b] = static_cast<uint8_t>(a >> (8 * b));
                crypto_generichash_update(&st, gpa, sizeof gpa);
                crypto_generichash_update(&st, p, kPage);
            }
        }
    }
    std::array<uint8_t, 32> out{};
    crypto_generichash_final(&st, out.data(), out.size());
    return out;
}

}  // namespace popek::replay
