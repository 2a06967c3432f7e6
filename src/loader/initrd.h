#pragma once
/// Initial ramdisk placement, shared by every boot protocol.
#include <cstdint>
#include <span>

#include "loader/loader.h"
#include "loader/placement.h"

namespace popek::loader {

struct InitrdLocation {
    uint64_t addr = 0;
    uint64_t size = 0;
};

/// Places the request's initrd page aligned as high as possible in RAM below `limit` and above everything
/// claimed so far below `limit` (the kernel), so the kernel can grow upward without hitting it.
/// An empty initrd places nothing and returns {0, 0}.
Result<InitrdLocation> place_initrd(Placement& placement, const LoadRequest& request, uint64_t limit);

}  // namespace popek::loader
