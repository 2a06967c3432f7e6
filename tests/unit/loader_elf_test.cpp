// ELF parser: valid images of both classes, and every kind of lie a file can tell.
#include <gtest/gtest.h>

#include "loader/elf.h"
#include "loader_images.h"

namespace popek::loader {
namespace {

using test::build_elf;
using test::get;
using test::put;

Result<ElfFile> parse(const std::vector<uint8_t>& b) { return ElfFile::parse(b); }

void expect_error(const std::vector<uint8_t>& b, const std::string& needle) {
    auto r = parse(b);
    ASSERT_FALSE(r) << "parse accepted an image that should fail with '" << needle << "'";
    EXPECT_NE(r.error().message.find(needle), std::string::npos) << r.error().message;
}

TEST(LoaderElf, ParsesElf64SegmentsAndNotes) {
    test::ElfSpec spec = test::pvh_spec(true, 8);
    spec.segments.push_back({0x200000, {1, 2, 3}, 0x1000});
    auto image = build_elf(spec);  // ElfFile points into it: keep it alive
    auto elf = parse(image);
    ASSERT_TRUE(elf) << elf.error().message;
    EXPECT_TRUE(elf->is_64);
    EXPECT_EQ(elf->machine, kEmX86_64);
    EXPECT_EQ(elf->entry, 0x100000u);
    ASSERT_EQ(elf->segments.size(), 3u);
    EXPECT_EQ(elf->segments[1].paddr, 0x200000u);
    EXPECT_EQ(elf->segments[1].filesz, 3u);
    EXPECT_EQ(elf->segments[1].memsz, 0x1000u);
    EXPECT_EQ(elf->segments[2].type, kPtNote);
    const ElfNote* note = elf->find_note("Xen", 18);
    ASSERT_NE(note, nullptr);
    EXPECT_EQ(note->desc.size(), 8u);
    EXPECT_EQ(elf->find_note("Xen", 17), nullptr);
    EXPECT_EQ(elf->find_note("GNU", 18), nullptr);
}

TEST(LoaderElf, ParsesElf32) {
    auto image = build_elf(test::pvh_spec(false, 4));
    auto elf = parse(image);
    ASSERT_TRUE(elf) << elf.error().message;
    EXPECT_FALSE(elf->is_64);
    EXPECT_EQ(elf->machine, kEmX86);
    ASSERT_EQ(elf->segments.size(), 2u);
    EXPECT_EQ(elf->segments[0].memsz, 0x3000u);
    ASSERT_NE(elf->find_note("Xen", 18), nullptr);
}

TEST(LoaderElf, Elf32MayBeMarkedX86_64AsXenAccepts) {
    test::ElfSpec spec = test::pvh_spec(false, 4);
    spec.machine = kEmX86_64;  // XTF's hvm64 images: 64-bit code in an ELF32 container
    auto image = build_elf(spec);
    auto elf = parse(image);
    ASSERT_TRUE(elf) << elf.error().message;
    EXPECT_FALSE(elf->is_64);
    EXPECT_EQ(elf->machine, kEmX86_64);
    spec.machine = 40;  // EM_ARM
    expect_error(build_elf(spec), "machine 40 is not 3 or 62");
}

TEST(LoaderElf, FindsNotesInSectionsWithoutPtNote) {
    for (bool is_64 : {false, true}) {
        test::ElfSpec spec = test::pvh_spec(is_64, 4);
        spec.notes_in_section = true;
        auto image = build_elf(spec);
        auto elf = parse(image);
        ASSERT_TRUE(elf) << elf.error().message;
        EXPECT_EQ(elf->segments.size(), 1u);
        EXPECT_NE(elf->find_note("Xen", 18), nullptr) << "is_64=" << is_64;
    }
}

TEST(LoaderElf, EveryTruncationFailsCleanly) {
    for (bool is_64 : {false, true}) {
        for (bool in_section : {false, true}) {
            test::ElfSpec spec = test::pvh_spec(is_64, 4);
            spec.notes_in_section = in_section;
            std::vector<uint8_t> full = build_elf(spec);
            ASSERT_TRUE(parse(full));
            for (size_t len = 0; len < full.size(); ++len) {
                std::vector<uint8_t> cut(full.begin(), full.begin() + static_cast<long>(len));
                auto r = parse(cut);
                EXPECT_FALSE(r) << "truncated to " << len << " of " << full.size() << " bytes was accepted";
                if (!r) {
                    EXPECT_FALSE(r.error().message.empty());
                }
            }
        }
    }
}

TEST(LoaderElf, RejectsBadIdentification) {
    auto b = build_elf(test::own_spec());
    expect_error({0x7f, 'E', 'L'}, "bad magic");
    auto bad = b;
    bad[4] = 3;
    expect_error(bad, "class 3");
    bad = b;
    bad[5] = 2;
    expect_error(bad, "not little-endian");
    bad = b;
    bad[6] = 0;
    expect_error(bad, "version 0");
    bad = b;
    put(bad, 16, 3, 2);  // ET_DYN
    expect_error(bad, "not an executable");
    bad = b;
    put(bad, 18, 3, 2);  // EM_386 in an ELF64
    expect_error(bad, "machine 3");
}

TEST(LoaderElf, RejectsProgramHeaderTableLies) {
    auto b = build_elf(test::own_spec());
    auto bad = b;
    put(bad, 32, 0xffff'ffff'ffff'ff00ull, 8);  // e_phoff near the top: offset + size overflows
    expect_error(bad, "program header table");
    bad = b;
    put(bad, 56, 0xffff, 2);  // e_phnum far too large
    expect_error(bad, "program header table");
    bad = b;
    put(bad, 54, 0xffff, 2);  // e_phentsize
    expect_error(bad, "program header size 65535");
    bad = b;
    put(bad, 56, 0, 2);
    expect_error(bad, "no program headers");
}

TEST(LoaderElf, RejectsSegmentLies) {
    test::ElfSpec spec = test::own_spec();
    spec.segments.push_back({0x200000, {1, 2, 3, 4}, 0});
    auto b = build_elf(spec);
    const size_t ph1 = 64 + 56;  // second program header
    auto bad = b;
    put(bad, ph1 + 8, 0xffff'ffff'ffff'fff0ull, 8);  // p_offset: offset + filesz wraps
    expect_error(bad, "ELF program header 1 extends past end of file");
    bad = b;
    put(bad, ph1 + 32, b.size(), 8);  // p_filesz larger than the file
    expect_error(bad, "ELF program header 1 extends past end of file");
    bad = b;
    put(bad, ph1 + 40, 2, 8);  // p_memsz < p_filesz
    expect_error(bad, "file size 0x4 exceeds memory size 0x2");
    bad = b;
    put(bad, ph1 + 24, 0xffff'ffff'ffff'fffeull, 8);  // p_paddr + p_memsz overflows
    expect_error(bad, "overflows");
}

TEST(LoaderElf, RejectsSectionHeaderLies) {
    test::ElfSpec spec = test::pvh_spec(true, 4);
    spec.notes_in_section = true;
    auto b = build_elf(spec);
    auto bad = b;
    put(bad, 58, 0x4000, 2);  // e_shentsize
    expect_error(bad, "section header size");
    bad = b;
    put(bad, 60, 0xffff, 2);  // e_shnum
    expect_error(bad, "section header table");
    bad = b;
    put(bad, 40, 0xffff'ffff'ffff'ffc0ull, 8);  // e_shoff: offset + size wraps
    expect_error(bad, "section header table");
    bad = b;
    size_t shoff = get(b, 40, 8);
    put(bad, shoff + 64 + 32, 0x10000, 8);  // note section size past the end
    expect_error(bad, "section 1 (note) extends past end of file");
}

TEST(LoaderElf, RejectsLyingNoteSizes) {
    auto b = build_elf(test::pvh_spec(true, 8));
    // The note is the last thing in the file; find it from the PT_NOTE header (second phdr).
    size_t note_off = get(b, 64 + 56 + 8, 8);
    auto bad = b;
    put(bad, note_off, 0x1000, 4);  // namesz
    expect_error(bad, "name size 4096 runs past its end");
    bad = b;
    put(bad, note_off + 4, 0xffff'fff0u, 4);  // descsz
    expect_error(bad, "descriptor size 4294967280 runs past its end");
    bad = b;
    put(bad, note_off, 0xffff'ffffu, 4);  // namesz: name_off + namesz must not wrap
    expect_error(bad, "name size");
}

TEST(LoaderElf, ToleratesTrailingNotePadding) {
    test::ElfSpec spec = test::pvh_spec(false, 4);
    spec.notes.push_back({"GNU", 3, {1, 2, 3}});  // 3-byte descriptor: padding follows
    auto b = build_elf(spec);
    size_t ph_note = 52 + 32;
    put(b, ph_note + 16, get(b, ph_note + 16, 4) - 1, 4);  // cut the final padding byte
    auto elf = parse(b);
    ASSERT_TRUE(elf) << elf.error().message;
    ASSERT_NE(elf->find_note("GNU", 3), nullptr);
    EXPECT_EQ(elf->find_note("GNU", 3)->desc.size(), 3u);
}

}  // namespace
}  // namespace popek::loader
