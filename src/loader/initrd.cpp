#include "loader/initrd.h"

#include "arch/x86_64/boot_layout.h"

namespace popek::loader {

Result<InitrdLocation> place_initrd(Placement& placement, std::span<const uint8_t> initrd, uint64_t limit) {
    if (initrd.empty()) return InitrdLocation{};
    uint64_t floor = placement.highest_end_below(limit);
    uint64_t addr = TRY(placement.claim_highest(initrd.size(), arch::kPageSize, floor, limit, "initrd"));
    TRY_VOID(placement.mem().write(addr, initrd));
    return InitrdLocation{addr, initrd.size()};
}

}  // namespace popek::loader
