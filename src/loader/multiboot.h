#pragma once
/// Multiboot version 1 (the Multiboot Specification 0.6.96): an ELF32 i386 kernel that carries a
/// multiboot header in its first 8 KiB is loaded by its program headers and entered in 32-bit
/// flat protected mode, paging off, interrupts off, with EAX = 0x2BADB002 and EBX = the multiboot
/// information block (memory sizes and map, command line, the initrd as the one module).
/// kvm-unit-tests' x86 images boot this way under QEMU's -kernel.
#include <cstdint>
#include <optional>
#include <span>

#include "loader/elf.h"
#include "loader/loader.h"
#include "loader/placement.h"

namespace popek::loader {

inline constexpr uint32_t kMultibootHeaderMagic = 0x1BADB002;   ///< spec 3.1.2
inline constexpr uint32_t kMultibootBootMagic = 0x2BADB002;     ///< spec 3.2, EAX at entry
inline constexpr uint64_t kMultibootSearchLimit = 8192;         ///< spec 3.1.1

/// The header fields popek acts on (spec 3.1.1: 32-bit aligned, wholly inside the first 8 KiB).
struct MultibootHeader {
    uint64_t offset = 0;   ///< file offset of the magic
    uint32_t flags = 0;
};

/// The first header whose magic + flags + checksum sum to zero; nullopt when there is none.
std::optional<MultibootHeader> find_multiboot_header(std::span<const uint8_t> image);

/// Loads a multiboot ELF32 image. Errors name what is wrong: a requirement popek cannot meet
/// (video mode, unknown requirement bits, the a.out address fields), a machine other than
/// EM_386, segments outside RAM or on the boot data, an entry outside the loaded image.
Result<BootSetup> load_multiboot(const ElfFile& elf, const MultibootHeader& header, std::span<const uint8_t> image,
                                 const LoadRequest& request, Placement& placement);

}  // namespace popek::loader
