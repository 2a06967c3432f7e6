#include "util/huge_mapping.h"

#include <sys/mman.h>

#include <cstdint>

namespace popek {

Result<UniqueMapping> map_huge_anonymous(size_t len, const char* what, bool dont_fork) {
    constexpr size_t kHugePage = size_t{2} << 20;
    len = (len + 4095) & ~size_t{4095};
    if (len == 0 || len > SIZE_MAX - kHugePage) return fail("cannot map {} bytes for {}", len, what);
    const size_t padded = len + kHugePage;
    void* raw = ::mmap(nullptr, padded, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (raw == MAP_FAILED) return fail_errno("mmap {} bytes for {}", len, what);
    // Keep the 2 MiB-aligned part: a huge page needs an aligned virtual address too.
    const auto start = reinterpret_cast<uintptr_t>(raw);
    const uintptr_t aligned = (start + kHugePage - 1) & ~(uintptr_t{kHugePage} - 1);
    if (aligned > start) ::munmap(raw, aligned - start);
    const uintptr_t end = aligned + len;
    if (start + padded > end) ::munmap(reinterpret_cast<void*>(end), start + padded - end);
    void* mem = reinterpret_cast<void*>(aligned);
    ::madvise(mem, len, MADV_HUGEPAGE);   // refused where THP is off: 4 KiB pages then
    ::madvise(mem, len, MADV_DONTDUMP);
    if (dont_fork) ::madvise(mem, len, MADV_DONTFORK);
    return UniqueMapping(mem, len);
}

}  // namespace popek
