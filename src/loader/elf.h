#pragma once
/// ELF parsing for kernel images (System V gABI, "ELF Header", "Program Header", "Note Section").
/// Both classes are accepted (PVH kernels may be ELF32), little-endian x86 only: ELF64 must be
/// EM_X86_64, ELF32 EM_386 or EM_X86_64 (Xen accepts both for PVH; multiboot wants EM_386).
/// Every offset and size is checked against the file and for overflow while parsing, so users of
/// ElfFile can trust the ranges it returns.
#include <cstdint>
#include <functional>
#include <span>
#include <string_view>
#include <vector>

#include "util/result.h"

namespace popek::loader {

inline constexpr uint16_t kEmX86 = 3;       ///< EM_386
inline constexpr uint16_t kEmX86_64 = 62;   ///< EM_X86_64
inline constexpr uint32_t kPtLoad = 1;
inline constexpr uint32_t kPtNote = 4;
inline constexpr uint32_t kShtNote = 7;

/// True when the image starts with the ELF magic.
bool is_elf(std::span<const uint8_t> image);

/// A program header, widened to 64 bits.
struct ElfSegment {
    uint32_t type = 0;
    uint32_t flags = 0;
    uint64_t offset = 0;
    uint64_t vaddr = 0;
    uint64_t paddr = 0;
    uint64_t filesz = 0;
    uint64_t memsz = 0;
    uint64_t align = 0;
};

/// One note; name without its terminating NUL. `desc` points into the image.
struct ElfNote {
    std::string_view name;
    uint32_t type = 0;
    std::span<const uint8_t> desc;
};

struct ElfFile {
    bool is_64 = false;
    uint16_t machine = 0;
    uint64_t entry = 0;
    std::vector<ElfSegment> segments;   ///< every program header, in file order
    std::vector<ElfNote> notes;         ///< from PT_NOTE segments, else from SHT_NOTE sections

    /// Parses and validates `image`; the ElfFile refers into it (keep it alive).
    static Result<ElfFile> parse(std::span<const uint8_t> image);

    /// The first note with this owner name and type, or nullptr.
    const ElfNote* find_note(std::string_view name, uint32_t type) const;
};

/// Reads the parts of an ELF file that ElfFile::parse looks at (identification and header,
/// program and section header tables, the notes they point at) into `file`, a buffer of the
/// file's size, through `fetch(offset, len)` (fills file[offset, offset+len) from the file; false
/// on a read error). The rest of `file` is left alone: a loader given LoadRequest::kernel_reader
/// reads PT_LOAD contents straight into guest RAM, so a 65 MiB vmlinux never has a whole copy
/// in host memory. False (read the whole file then: ElfFile::parse names the problem) when the
/// file is no ELF, a table or note lies outside it, or the parts add up to more than `max_bytes`.
bool fetch_elf_metadata(std::span<const uint8_t> file, uint64_t max_bytes,
                        const std::function<bool(uint64_t offset, uint64_t len)>& fetch);

}  // namespace popek::loader
