#include "loader/elf_segments.h"

#include <algorithm>
#include <string>

namespace popek::loader {

Result<LoadedImage> load_elf_segments(const ElfFile& elf, std::span<const uint8_t> image, Placement& placement,
                                      const RangeReader& reader) {
    LoadedImage loaded{UINT64_MAX, 0};
    for (size_t i = 0; i < elf.segments.size(); ++i) {
        const ElfSegment& s = elf.segments[i];
        if (s.type != kPtLoad || s.memsz == 0) continue;
        TRY_VOID(placement.claim(s.paddr, s.memsz, fmt::format("ELF program header {}", i)));
        // ElfFile::parse checked that [offset, offset+filesz) is inside the image and filesz <= memsz.
        if (reader) {
            const std::span<uint8_t> ram = TRY(placement.mem().slice(s.paddr, s.filesz));
            TRY_VOID(reader(s.offset, ram));
        } else {
            TRY_VOID(placement.mem().write(s.paddr, image.subspan(s.offset, s.filesz)));
        }
        auto bss = TRY(placement.mem().slice(s.paddr + s.filesz, s.memsz - s.filesz));
        std::fill(bss.begin(), bss.end(), uint8_t{0});
        loaded.start = std::min(loaded.start, s.paddr);
        loaded.end = std::max(loaded.end, s.paddr + s.memsz);
    }
    if (loaded.end == 0) return fail("ELF file has no loadable (PT_LOAD) segment");
    return loaded;
}

Result<void> check_entry_loaded(const ElfFile& elf, uint64_t entry) {
    for (const ElfSegment& s : elf.segments)
        if (s.type == kPtLoad && entry >= s.paddr && entry - s.paddr < s.filesz) return {};
    return fail("entry point {:#x} is not inside a loaded ELF segment", entry);
}

}  // namespace popek::loader
