#include "loader/initrd.h"

#include <algorithm>

#include "arch/x86_64/boot_layout.h"

namespace popek::loader {

Result<void> LoadRequest::copy_initrd(std::span<uint8_t> out) const {
    if (out.size() != initrd_size()) return fail("initrd: {} bytes asked for, it has {}", out.size(), initrd_size());
    if (initrd_reader) return initrd_reader(0, out);
    std::copy(initrd.begin(), initrd.end(), out.begin());
    return {};
}

Result<InitrdLocation> place_initrd(Placement& placement, const LoadRequest& request, uint64_t limit) {
    const uint64_t size = request.initrd_size();
    if (size == 0) return InitrdLocation{};
    uint64_t floor = placement.highest_end_below(limit);
    uint64_t addr = TRY(placement.claim_highest(size, arch::kPageSize, floor, limit, "initrd"));
    const std::span<uint8_t> ram = TRY(placement.mem().slice(addr, size));
    TRY_VOID(request.copy_initrd(ram));
    return InitrdLocation{addr, size};
}

}  // namespace popek::loader
