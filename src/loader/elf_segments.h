#pragma once
/// Copies an ELF's PT_LOAD segments into guest RAM at their physical addresses (p_paddr).
#include <cstdint>
#include <span>

#include "loader/elf.h"
#include "loader/loader.h"
#include "loader/placement.h"

namespace popek::loader {

struct LoadedImage {
    uint64_t start = 0;   ///< lowest p_paddr of a PT_LOAD
    uint64_t end = 0;     ///< highest p_paddr + p_memsz
};

/// Claims and fills every non-empty PT_LOAD: p_filesz bytes from the file (from `image`, or
/// through `reader` when one is given: LoadRequest::kernel_reader), the rest zeroed.
/// Fails (naming the segment) when one lies outside RAM or overlaps an earlier claim, or when
/// there is nothing to load.
Result<LoadedImage> load_elf_segments(const ElfFile& elf, std::span<const uint8_t> image, Placement& placement,
                                      const RangeReader& reader);

/// Checks that `entry` (a physical address) lies inside the file-backed part of a PT_LOAD.
Result<void> check_entry_loaded(const ElfFile& elf, uint64_t entry);

}  // namespace popek::loader
