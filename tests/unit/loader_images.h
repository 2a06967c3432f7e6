#pragma once
/// Builders of small kernel images for the loader tests: ELF32/ELF64 with PT_LOAD segments and
/// notes (in a PT_NOTE segment or a SHT_NOTE section), and bzImages with a chosen setup header.
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

namespace popek::loader::test {

inline void put(std::vector<uint8_t>& b, size_t off, uint64_t value, size_t width) {
    if (b.size() < off + width) b.resize(off + width);
    for (size_t i = 0; i < width; ++i) b[off + i] = static_cast<uint8_t>(value >> (8 * i));
}
inline uint64_t get(const std::vector<uint8_t>& b, size_t off, size_t width) {
    uint64_t v = 0;
    for (size_t i = 0; i < width; ++i) v |= uint64_t{b[off + i]} << (8 * i);
    return v;
}

struct NoteSpec {
    std::string name;
    uint32_t type;
    std::vector<uint8_t> desc;
};

struct SegmentSpec {
    uint64_t paddr;
    std::vector<uint8_t> data;
    uint64_t memsz = 0;  ///< 0: data.size()
    std::optional<uint64_t> vaddr = std::nullopt;  ///< nullopt: paddr
};

struct ElfSpec {
    bool is_64 = true;
    uint16_t machine = 0;  ///< 0: EM_X86_64 or EM_386 by class
    uint64_t entry = 0x100000;
    std::vector<SegmentSpec> segments;
    std::vector<NoteSpec> notes;
    bool notes_in_section = false;  ///< SHT_NOTE section instead of a PT_NOTE segment
};

inline std::vector<uint8_t> note_bytes(const std::vector<NoteSpec>& notes) {
    std::vector<uint8_t> out;
    for (const NoteSpec& n : notes) {
        size_t at = out.size();
        put(out, at, n.name.size() + 1, 4);
        put(out, at + 4, n.desc.size(), 4);
        put(out, at + 8, n.type, 4);
        out.insert(out.end(), n.name.begin(), n.name.end());
        out.push_back(0);
        while (out.size() % 4) out.push_back(0);
        out.insert(out.end(), n.desc.begin(), n.desc.end());
        while (out.size() % 4) out.push_back(0);
    }
    return out;
}

/// Layout: ELF header, program headers, segment data, notes, then (optionally) section headers
/// [null, note]. The last byte of the file is always used by something the parser checks.
inline std::vector<uint8_t> build_elf(const ElfSpec& spec) {
    const bool w = spec.is_64;
    const size_t ehsize = w ? 64 : 52, phentsize = w ? 56 : 32, shentsize = w ? 64 : 40, word = w ? 8 : 4;
    const bool pt_note = !spec.notes.empty() && !spec.notes_in_section;
    const size_t phnum = spec.segments.size() + (pt_note ? 1 : 0);
    std::vector<uint8_t> b(ehsize + phnum * phentsize, 0);
    const uint8_t ident[] = {0x7f, 'E', 'L', 'F', uint8_t(w ? 2 : 1), 1, 1};
    std::memcpy(b.data(), ident, sizeof(ident));
    put(b, 16, 2, 2);  // ET_EXEC
    put(b, 18, spec.machine ? spec.machine : (w ? 62 : 3), 2);
    put(b, 20, 1, 4);
    put(b, 24, spec.entry, word);
    put(b, w ? 32 : 28, ehsize, word);  // e_phoff
    put(b, w ? 52 : 40, ehsize, 2);
    put(b, w ? 54 : 42, phentsize, 2);
    put(b, w ? 56 : 44, phnum, 2);
    put(b, w ? 58 : 46, shentsize, 2);

    auto put_phdr = [&](size_t i, uint32_t type, uint64_t offset, uint64_t paddr, uint64_t filesz, uint64_t memsz,
                        uint64_t align, uint64_t vaddr) {
        size_t p = ehsize + i * phentsize;
        put(b, p, type, 4);
        if (w) {
            put(b, p + 4, 7, 4);
            put(b, p + 8, offset, 8);
            put(b, p + 16, vaddr, 8);
            put(b, p + 24, paddr, 8);
            put(b, p + 32, filesz, 8);
            put(b, p + 40, memsz, 8);
            put(b, p + 48, align, 8);
        } else {
            put(b, p + 4, offset, 4);
            put(b, p + 8, vaddr, 4);
            put(b, p + 12, paddr, 4);
            put(b, p + 16, filesz, 4);
            put(b, p + 20, memsz, 4);
            put(b, p + 24, 7, 4);
            put(b, p + 28, align, 4);
        }
    };
    size_t i = 0;
    for (const SegmentSpec& s : spec.segments) {
        while (b.size() % 16) b.push_back(0);
        size_t off = b.size();
        b.insert(b.end(), s.data.begin(), s.data.end());
        put_phdr(i++, 1, off, s.paddr, s.data.size(), s.memsz ? s.memsz : s.data.size(), 0x1000,
                 s.vaddr.value_or(s.paddr));
    }
    if (!spec.notes.empty()) {
        while (b.size() % 4) b.push_back(0);
        size_t off = b.size();
        std::vector<uint8_t> notes = note_bytes(spec.notes);
        b.insert(b.end(), notes.begin(), notes.end());
        if (pt_note) {
            put_phdr(i++, 4, off, 0, notes.size(), notes.size(), 4, 0);
        } else {
            while (b.size() % 8) b.push_back(0);
            size_t shoff = b.size();
            b.resize(shoff + 2 * shentsize, 0);
            size_t sh = shoff + shentsize;  // section 1: the notes
            put(b, sh + 4, 7, 4);           // SHT_NOTE
            put(b, sh + (w ? 24 : 16), off, word);
            put(b, sh + (w ? 32 : 20), notes.size(), word);
            put(b, sh + (w ? 48 : 32), 4, word);
            put(b, w ? 40 : 32, shoff, word);
            put(b, w ? 60 : 48, 2, 2);
            // Make the section table's last byte count: a non-zero sh_entsize in the last entry.
            put(b, sh + shentsize - word, 1, word);
        }
    }
    return b;
}

/// A PVH ELF: one segment at 1 MiB holding `code`, the PHYS32 entry note pointing at it.
inline ElfSpec pvh_spec(bool is_64 = false, size_t desc_size = 4) {
    ElfSpec spec;
    spec.is_64 = is_64;
    spec.entry = 0x100000;
    spec.segments.push_back({0x100000, std::vector<uint8_t>(0x200, 0x90), 0x3000});
    std::vector<uint8_t> desc(desc_size, 0);
    put(desc, 0, 0x100010, desc_size);
    spec.notes.push_back({"Xen", 18, desc});
    return spec;
}

/// The 12 bytes of a multiboot v1 header (magic, flags, checksum) with a correct checksum.
inline std::vector<uint8_t> multiboot_header(uint32_t flags) {
    std::vector<uint8_t> h;
    put(h, 0, 0x1BADB002, 4);
    put(h, 4, flags, 4);
    put(h, 8, static_cast<uint32_t>(0u - (0x1BADB002u + flags)), 4);
    return h;
}

/// A multiboot ELF32 (EM_386): one segment at `paddr` starting with the header, entry at +0x10.
inline ElfSpec multiboot_spec(uint32_t flags = 0, uint64_t paddr = 0x100000) {
    ElfSpec spec;
    spec.is_64 = false;
    spec.entry = paddr + 0x10;
    std::vector<uint8_t> data = multiboot_header(flags);
    data.resize(0x200, 0x90);
    spec.segments.push_back({paddr, data, 0x3000});
    return spec;
}

/// An own-guest ELF64: one segment at 1 MiB.
inline ElfSpec own_spec() {
    ElfSpec spec;
    spec.entry = 0x100000;
    spec.segments.push_back({0x100000, std::vector<uint8_t>(0x100, 0xf4), 0x2000});
    return spec;
}

struct BzSpec {
    uint8_t setup_sects = 1;
    uint16_t version = 0x020f;
    uint16_t xloadflags = 0x3;  // XLF_KERNEL_64 | XLF_CAN_BE_LOADED_ABOVE_4G
    uint32_t init_size = 0x400000;
    uint64_t pref_address = 0x1000000;
    uint32_t kernel_alignment = 0x200000;
    uint8_t relocatable = 1;
    uint32_t cmdline_size = 2047;
    uint32_t initrd_addr_max = 0x7fffffff;
    size_t payload_size = 0x1000;
};

/// File offsets of setup header fields (boot.rst).
enum BzOffset : size_t {
    kBzSetupSects = 0x1f1, kBzSyssize = 0x1f4, kBzBootFlag = 0x1fe, kBzJump = 0x200, kBzMagic = 0x202,
    kBzVersion = 0x206, kBzTypeOfLoader = 0x210, kBzCode32Start = 0x214, kBzRamdiskImage = 0x218,
    kBzRamdiskSize = 0x21c, kBzCmdLinePtr = 0x228, kBzInitrdAddrMax = 0x22c, kBzKernelAlignment = 0x230,
    kBzRelocatable = 0x234, kBzXloadflags = 0x236, kBzCmdlineSize = 0x238, kBzPrefAddress = 0x258,
    kBzInitSize = 0x260, kBzHeaderEnd = 0x26c,
};

inline std::vector<uint8_t> build_bzimage(const BzSpec& s) {
    size_t setup = (size_t{s.setup_sects ? s.setup_sects : 4u} + 1) * 512;
    std::vector<uint8_t> b(setup + s.payload_size, 0);
    b[kBzSetupSects] = s.setup_sects;
    put(b, kBzSyssize, (s.payload_size + 15) / 16, 4);
    put(b, kBzBootFlag, 0xaa55, 2);
    b[kBzJump] = 0xeb;
    b[kBzJump + 1] = static_cast<uint8_t>(kBzHeaderEnd - 0x202);
    put(b, kBzMagic, 0x53726448, 4);
    put(b, kBzVersion, s.version, 2);
    put(b, kBzCode32Start, 0x100000, 4);
    put(b, kBzInitrdAddrMax, s.initrd_addr_max, 4);
    put(b, kBzKernelAlignment, s.kernel_alignment, 4);
    b[kBzRelocatable] = s.relocatable;
    put(b, kBzXloadflags, s.xloadflags, 2);
    put(b, kBzCmdlineSize, s.cmdline_size, 4);
    put(b, kBzPrefAddress, s.pref_address, 8);
    put(b, kBzInitSize, s.init_size, 4);
    for (size_t i = setup; i < b.size(); ++i) b[i] = static_cast<uint8_t>(i * 7);
    return b;
}

}  // namespace popek::loader::test
