#pragma once
/// Linux bzImage through the 64-bit boot protocol (Documentation/arch/x86/boot.rst, "The Real-Mode
/// Kernel Header", "64-bit Boot Protocol"): the protected-mode kernel at pref_address, a
/// boot_params zero page with the E820 map, command line and initrd, entered at load+0x200 in
/// long mode with rsi = boot_params.
#include <span>

#include "loader/loader.h"
#include "loader/placement.h"

namespace popek::loader {

/// True when the image carries the "HdrS" setup header signature at offset 0x202.
bool is_bzimage(std::span<const uint8_t> image);

Result<BootSetup> load_bzimage(std::span<const uint8_t> image, const LoadRequest& request, Placement& placement);

}  // namespace popek::loader
