#include "loader/elf.h"

#include <algorithm>

#include "loader/byte_reader.h"

namespace popek::loader {
namespace {

// e_ident (gABI "ELF Identification").
constexpr uint8_t kElfMagic[4] = {0x7f, 'E', 'L', 'F'};
constexpr size_t kEiClass = 4, kEiData = 5, kEiVersion = 6, kEiNident = 16;
constexpr uint8_t kClass32 = 1, kClass64 = 2, kDataLsb = 1;
constexpr uint16_t kEtExec = 2;

/// Field offsets of one ELF class (gABI Elf32_Ehdr/Elf64_Ehdr, Phdr, Shdr).
struct ClassLayout {
    uint64_t ehsize, phentsize, shentsize;
    uint64_t e_entry, e_phoff, e_shoff, e_phentsize, e_phnum, e_shentsize, e_shnum;
    uint64_t p_type, p_flags, p_offset, p_vaddr, p_paddr, p_filesz, p_memsz, p_align;
    uint64_t sh_type, sh_offset, sh_size, sh_addralign;
    uint64_t word;  ///< size of an address/offset field
};
constexpr ClassLayout kLayout32{52, 32, 40, 24, 28, 32, 42, 44, 46, 48,
                                0,  24, 4,  8,  12, 16, 20, 28, 4, 16, 20, 32, 4};
constexpr ClassLayout kLayout64{64, 56, 64, 24, 32, 40, 54, 56, 58, 60,
                                0,  4,  8,  16, 24, 32, 40, 48, 4, 24, 32, 48, 8};

/// Reads a class-sized word (u32 or u64) the caller already bounds-checked.
uint64_t word_at(std::span<const uint8_t> b, uint64_t off, const ClassLayout& l) {
    return l.word == 4 ? read_le_unchecked<uint32_t>(b, off) : read_le_unchecked<uint64_t>(b, off);
}

/// Parses the notes in [offset, offset+size) of the image; `where` names the container in errors.
Result<void> parse_notes(std::span<const uint8_t> image, uint64_t offset, uint64_t size, uint64_t align,
                         std::string_view where, std::vector<ElfNote>& out) {
    // Notes are 4-byte aligned except in containers aligned to 8 (gABI "Note Section").
    const uint64_t note_align = align == 8 ? 8 : 4;
    std::span<const uint8_t> area = image.subspan(offset, size);
    uint64_t pos = 0;
    while (area.size() - pos >= 12) {
        uint32_t namesz = read_le_unchecked<uint32_t>(area, pos);
        uint32_t descsz = read_le_unchecked<uint32_t>(area, pos + 4);
        uint32_t type = read_le_unchecked<uint32_t>(area, pos + 8);
        uint64_t name_off = pos + 12;
        if (!range_fits(name_off, namesz, area.size()))
            return fail("ELF note at {} offset {:#x}: name size {} runs past its end", where, pos, namesz);
        uint64_t desc_off = *align_up(name_off + namesz, note_align);
        if (!range_fits(desc_off, descsz, area.size()))
            return fail("ELF note at {} offset {:#x}: descriptor size {} runs past its end", where, pos, descsz);
        std::string_view name(reinterpret_cast<const char*>(area.data() + name_off), namesz);
        if (!name.empty() && name.back() == '\0') name.remove_suffix(1);
        out.push_back(ElfNote{name, type, area.subspan(desc_off, descsz)});
        // The last note's padding may be cut off by the end of the container.
        pos = std::min<uint64_t>(*align_up(desc_off + descsz, note_align), area.size());
    }
    return {};
}

Result<ElfSegment> parse_segment(std::span<const uint8_t> image, uint64_t off, const ClassLayout& l,
                                 size_t index) {
    ElfSegment s;
    s.type = read_le_unchecked<uint32_t>(image, off + l.p_type);
    s.flags = read_le_unchecked<uint32_t>(image, off + l.p_flags);
    s.offset = word_at(image, off + l.p_offset, l);
    s.vaddr = word_at(image, off + l.p_vaddr, l);
    s.paddr = word_at(image, off + l.p_paddr, l);
    s.filesz = word_at(image, off + l.p_filesz, l);
    s.memsz = word_at(image, off + l.p_memsz, l);
    s.align = word_at(image, off + l.p_align, l);
    if (!range_fits(s.offset, s.filesz, image.size()))
        return fail("ELF program header {} extends past end of file (offset {:#x} + size {:#x} > {:#x})", index,
                    s.offset, s.filesz, image.size());
    if (s.type == kPtLoad) {
        if (s.filesz > s.memsz)
            return fail("ELF program header {}: file size {:#x} exceeds memory size {:#x}", index, s.filesz, s.memsz);
        if (s.paddr > UINT64_MAX - s.memsz)
            return fail("ELF program header {}: physical address {:#x} + size {:#x} overflows", index, s.paddr,
                        s.memsz);
    }
    return s;
}

/// Validates the section header table and collects SHT_NOTE sections' notes into `notes`.
Result<void> parse_section_notes(std::span<const uint8_t> image, const ClassLayout& l, std::vector<ElfNote>& notes) {
    uint64_t shoff = word_at(image, l.e_shoff, l);
    uint16_t shentsize = read_le_unchecked<uint16_t>(image, l.e_shentsize);
    uint16_t shnum = read_le_unchecked<uint16_t>(image, l.e_shnum);
    if (shoff == 0 || shnum == 0) return {};  // no section table (or extended numbering: unused here)
    if (shentsize != l.shentsize)
        return fail("ELF section header size {} is wrong (expected {})", shentsize, l.shentsize);
    if (!range_fits(shoff, uint64_t{shnum} * shentsize, image.size()))
        return fail("ELF section header table ({} entries at {:#x}) extends past end of file", shnum, shoff);
    for (uint16_t i = 0; i < shnum; ++i) {
        uint64_t off = shoff + uint64_t{i} * shentsize;
        uint32_t type = read_le_unchecked<uint32_t>(image, off + l.sh_type);
        if (type != kShtNote) continue;
        uint64_t offset = word_at(image, off + l.sh_offset, l);
        uint64_t size = word_at(image, off + l.sh_size, l);
        if (!range_fits(offset, size, image.size()))
            return fail("ELF section {} (note) extends past end of file", i);
        std::string where = fmt::format("section {}", i);
        TRY_VOID(parse_notes(image, offset, size, word_at(image, off + l.sh_addralign, l), where, notes));
    }
    return {};
}

}  // namespace

bool is_elf(std::span<const uint8_t> image) {
    return image.size() >= 4 && std::equal(std::begin(kElfMagic), std::end(kElfMagic), image.begin());
}

Result<ElfFile> ElfFile::parse(std::span<const uint8_t> image) {
    if (!is_elf(image)) return fail("not an ELF file (bad magic)");
    if (image.size() < kEiNident) return fail("ELF file truncated: {} bytes, identification needs {}", image.size(), kEiNident);
    uint8_t cls = image[kEiClass];
    if (cls != kClass32 && cls != kClass64) return fail("ELF class {} is neither 32- nor 64-bit", cls);
    if (image[kEiData] != kDataLsb) return fail("ELF data encoding {} is not little-endian", image[kEiData]);
    if (image[kEiVersion] != 1) return fail("ELF version {} is not 1", image[kEiVersion]);
    const ClassLayout& l = cls == kClass64 ? kLayout64 : kLayout32;
    if (image.size() < l.ehsize)
        return fail("ELF file truncated: {} bytes, the ELF header needs {}", image.size(), l.ehsize);

    ElfFile elf;
    elf.is_64 = cls == kClass64;
    uint16_t type = read_le_unchecked<uint16_t>(image, 16);
    elf.machine = read_le_unchecked<uint16_t>(image, 18);
    if (type != kEtExec) return fail("ELF type {} is not an executable (ET_EXEC)", type);
    // An ELF32 may say EM_X86_64: Xen's libelf accepts that for HVM/PVH guests, and XTF's hvm64
    // images are built that way (64-bit code, 32-bit container for the 32-bit entry).
    bool machine_ok = elf.machine == kEmX86_64 || (!elf.is_64 && elf.machine == kEmX86);
    if (!machine_ok)
        return fail("ELF machine {} is not {} ({}-bit x86)", elf.machine, elf.is_64 ? "62" : "3 or 62",
                    elf.is_64 ? 64 : 32);
    elf.entry = word_at(image, l.e_entry, l);

    uint64_t phoff = word_at(image, l.e_phoff, l);
    uint16_t phentsize = read_le_unchecked<uint16_t>(image, l.e_phentsize);
    uint16_t phnum = read_le_unchecked<uint16_t>(image, l.e_phnum);
    if (phnum == 0) return fail("ELF file has no program headers");
    if (phentsize != l.phentsize)
        return fail("ELF program header size {} is wrong (expected {})", phentsize, l.phentsize);
    if (!range_fits(phoff, uint64_t{phnum} * phentsize, image.size()))
        return fail("ELF program header table ({} entries at {:#x}) extends past end of file", phnum, phoff);
    for (uint16_t i = 0; i < phnum; ++i)
        elf.segments.push_back(TRY(parse_segment(image, phoff + uint64_t{i} * phentsize, l, i)));

    bool has_pt_note = false;
    for (size_t i = 0; i < elf.segments.size(); ++i) {
        const ElfSegment& s = elf.segments[i];
        if (s.type != kPtNote) continue;
        has_pt_note = true;
        std::string where = fmt::format("program header {}", i);
        TRY_VOID(parse_notes(image, s.offset, s.filesz, s.align, where, elf.notes));
    }
    std::vector<ElfNote> section_notes;
    TRY_VOID(parse_section_notes(image, l, section_notes));
    if (!has_pt_note) elf.notes = std::move(section_notes);
    return elf;
}

bool fetch_elf_metadata(std::span<const uint8_t> file, uint64_t max_bytes,
                        const std::function<bool(uint64_t offset, uint64_t len)>& fetch) {
    uint64_t fetched = 0;
    auto get = [&](uint64_t offset, uint64_t len) {
        if (!range_fits(offset, len, file.size()) || len > max_bytes - fetched) return false;
        fetched += len;
        return len == 0 || fetch(offset, len);
    };
    if (!get(0, std::min<uint64_t>(file.size(), kLayout64.ehsize)) || !is_elf(file) || file.size() < kEiNident)
        return false;
    const uint8_t cls = file[kEiClass];
    if (cls != kClass32 && cls != kClass64) return false;
    const ClassLayout& l = cls == kClass64 ? kLayout64 : kLayout32;
    if (file.size() < l.ehsize) return false;
    // Both tables are fetched when their entry size is the class's; ElfFile::parse refuses others.
    const uint64_t phoff = word_at(file, l.e_phoff, l), phnum = read_le_unchecked<uint16_t>(file, l.e_phnum);
    if (read_le_unchecked<uint16_t>(file, l.e_phentsize) != l.phentsize || !get(phoff, phnum * l.phentsize))
        return false;
    for (uint64_t i = 0; i < phnum; ++i) {
        const uint64_t off = phoff + i * l.phentsize;
        if (read_le_unchecked<uint32_t>(file, off + l.p_type) != kPtNote) continue;
        if (!get(word_at(file, off + l.p_offset, l), word_at(file, off + l.p_filesz, l))) return false;
    }
    const uint64_t shoff = word_at(file, l.e_shoff, l), shnum = read_le_unchecked<uint16_t>(file, l.e_shnum);
    if (shoff == 0 || shnum == 0) return true;
    if (read_le_unchecked<uint16_t>(file, l.e_shentsize) != l.shentsize || !get(shoff, shnum * l.shentsize))
        return false;
    for (uint64_t i = 0; i < shnum; ++i) {
        const uint64_t off = shoff + i * l.shentsize;
        if (read_le_unchecked<uint32_t>(file, off + l.sh_type) != kShtNote) continue;
        if (!get(word_at(file, off + l.sh_offset, l), word_at(file, off + l.sh_size, l))) return false;
    }
    return true;
}

const ElfNote* ElfFile::find_note(std::string_view name, uint32_t type) const {
    for (const ElfNote& n : notes)
        if (n.name == name && n.type == type) return &n;
    return nullptr;
}

}  // namespace popek::loader
