#pragma once
/// Xen PVH direct boot (Xen docs/misc/pvh.pandoc; public/arch-x86/hvm/start_info.h): an ELF
/// with a XEN_ELFNOTE_PHYS32_ENTRY note, entered in 32-bit flat protected mode with
/// ebx = the address of a version-1 hvm_start_info (memory map, command line, initrd module).
#include <optional>

#include "loader/elf.h"
#include "loader/loader.h"
#include "loader/placement.h"

namespace popek::loader {

/// The PHYS32 entry from the ELF's Xen notes: nullopt when there is no such note, an error when
/// the note is malformed (descriptor not 4 or 8 bytes, entry above 4 GiB).
Result<std::optional<uint64_t>> pvh_entry(const ElfFile& elf);

Result<BootSetup> load_pvh(const ElfFile& elf, uint64_t entry, std::span<const uint8_t> image,
                           const LoadRequest& request, Placement& placement);

}  // namespace popek::loader
