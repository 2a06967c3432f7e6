// Multiboot v1 loading: the header search, what lands in the information block, the entry state,
// and the images a boot loader must refuse.
#include <gtest/gtest.h>

#include "arch/x86_64/boot_layout.h"
#include "arch/x86_64/e820.h"
#include "arch/x86_64/segments.h"
#include "loader/elf.h"
#include "loader/loader.h"
#include "loader/multiboot.h"
#include "loader_images.h"

namespace popek::loader {
namespace {

using test::build_elf;
using test::multiboot_spec;

class LoaderMultiboot : public ::testing::Test {
protected:
    void SetUp() override {
        auto m = memory::GuestMemory::create(kMemSize);
        ASSERT_TRUE(m) << m.error().message;
        mem.emplace(std::move(*m));
    }
    Result<BootSetup> load(const std::vector<uint8_t>& kernel, std::string cmdline = {},
                           std::vector<uint8_t> initrd_bytes = {}, uint64_t rsdp = 0xe0000) {
        image = kernel;
        initrd = std::move(initrd_bytes);
        return load_kernel(*mem, LoadRequest{image, initrd, std::move(cmdline), 1, rsdp, "x86/test.flat", "env.txt"});
    }
    void expect_error(const std::vector<uint8_t>& kernel, const std::string& needle, std::string cmdline = {}) {
        auto r = load(kernel, std::move(cmdline));
        ASSERT_FALSE(r) << "loaded an image that should fail with '" << needle << "'";
        EXPECT_NE(r.error().message.find(needle), std::string::npos) << r.error().message;
    }
    uint32_t u32(uint64_t gpa) {
        auto v = mem->read_obj<uint32_t>(gpa);
        EXPECT_TRUE(v) << v.error().message;
        return v.value_or(0);
    }
    uint64_t u64(uint64_t gpa) { return u32(gpa) | uint64_t{u32(gpa + 4)} << 32; }
    std::string string_at(uint64_t gpa) {
        std::string s;
        for (char c; (c = static_cast<char>(mem->read_obj<uint8_t>(gpa + s.size()).value_or(0))) != 0;) s.push_back(c);
        return s;
    }

    static constexpr uint64_t kMemSize = 64ull << 20;
    std::optional<memory::GuestMemory> mem;
    std::vector<uint8_t> image, initrd;
};

TEST_F(LoaderMultiboot, FindsTheHeaderOnlyAlignedWithAGoodChecksumInTheFirst8KiB) {
    std::vector<uint8_t> b(0x3000, 0);
    EXPECT_FALSE(find_multiboot_header(b));
    std::vector<uint8_t> h = test::multiboot_header(3);
    std::copy(h.begin(), h.end(), b.begin() + 0x42);  // not 32-bit aligned
    EXPECT_FALSE(find_multiboot_header(b));
    std::vector<uint8_t> bad = test::multiboot_header(3);
    bad[8] ^= 1;  // checksum off by one
    std::copy(bad.begin(), bad.end(), b.begin() + 0x100);
    EXPECT_FALSE(find_multiboot_header(b));
    std::copy(h.begin(), h.end(), b.begin() + 8192 - 8);  // magic inside 8 KiB, checksum outside
    EXPECT_FALSE(find_multiboot_header(b));
    std::copy(h.begin(), h.end(), b.begin() + 8192 - 12);
    auto found = find_multiboot_header(b);
    ASSERT_TRUE(found);
    EXPECT_EQ(found->offset, 8192u - 12);
    EXPECT_EQ(found->flags, 3u);
    EXPECT_FALSE(find_multiboot_header(std::span(b).first(8192 - 1))) << "header cut off by the end of the file";
}

TEST_F(LoaderMultiboot, BuildsTheInformationBlockAndEntersFlatProtectedMode) {
    test::ElfSpec spec = multiboot_spec(0x3);  // page-aligned modules, memory info
    std::vector<uint8_t> env = {'N', 'R', '_', 'C', 'P', 'U', 'S', '=', '1', '\n'};
    auto setup = load(build_elf(spec), "arg1 arg2", env);
    ASSERT_TRUE(setup) << setup.error().message;
    EXPECT_EQ(setup->format, KernelFormat::Multiboot);
    EXPECT_EQ(format_name(setup->format), "multiboot");
    EXPECT_EQ(setup->ap_start, ApStart::WaitForSipi);

    const hv::CpuState& st = setup->bsp;
    EXPECT_EQ(st.rip, 0x100010u);
    EXPECT_EQ(st.gpr[hv::RAX], 0x2BADB002u);
    EXPECT_EQ(st.cr0 & (hv::kCr0Pe | hv::kCr0Pg), hv::kCr0Pe);
    EXPECT_EQ(st.efer, 0u);
    EXPECT_EQ(st.rflags & ((1u << 9) | (1u << 17)), 0u) << "IF and VM must be clear";
    for (const hv::Segment* s : {&st.cs, &st.ds, &st.es, &st.fs, &st.gs, &st.ss}) {
        EXPECT_EQ(s->base, 0u);
        EXPECT_EQ(s->limit, 0xffffffffu);
    }
    EXPECT_TRUE(st.cs.db);
    // The selectors the vCPU holds are valid in the GDT it is given.
    EXPECT_EQ(u64(st.gdt.base + arch::kSelCode32), arch::boot_gdt_entries()[1]);
    EXPECT_EQ(u64(st.gdt.base + arch::kSelData), arch::boot_gdt_entries()[3]);

    const uint64_t mbi = st.gpr[hv::RBX];
    EXPECT_GE(mbi, 0x103000u) << "information block on the image";
    EXPECT_GE(mbi, kMemSize - arch::kOneMiB) << "information block should sit at the top of RAM";
    EXPECT_EQ(u32(mbi), (1u << 0) | (1u << 2) | (1u << 3) | (1u << 6) | (1u << 9));
    EXPECT_EQ(u32(mbi + 4), 0x9fc00u / 1024) << "mem_lower: RAM below the EBDA";
    EXPECT_EQ(u32(mbi + 8), (kMemSize - arch::kOneMiB) / 1024) << "mem_upper: RAM from 1 MiB";
    EXPECT_EQ(string_at(u32(mbi + 16)), "x86/test.flat arg1 arg2");
    EXPECT_EQ(string_at(u32(mbi + 64)), "popek");

    ASSERT_EQ(u32(mbi + 20), 1u);
    const uint64_t mod = u32(mbi + 24);
    const uint32_t start = u32(mod), end = u32(mod + 4);
    EXPECT_EQ(end - start, env.size());
    EXPECT_EQ(start % arch::kPageSize, 0u);
    EXPECT_GE(start, 0x103000u);
    EXPECT_GE(start, kMemSize - arch::kOneMiB);
    std::vector<uint8_t> back(env.size());
    ASSERT_TRUE(mem->read(start, back));
    EXPECT_EQ(back, env);
    EXPECT_EQ(string_at(u32(mod + 8)), "env.txt");
    EXPECT_TRUE(start + env.size() <= mbi || start >= mbi + arch::kPageSize) << "module overlaps the block";

    const std::vector<arch::E820Entry> expected = arch::build_e820(*mem);
    ASSERT_EQ(u32(mbi + 44), expected.size() * 24);
    uint64_t entry = u32(mbi + 48);
    for (const arch::E820Entry& e : expected) {
        EXPECT_EQ(u32(entry), 20u);
        EXPECT_EQ(u64(entry + 4), e.addr);
        EXPECT_EQ(u64(entry + 12), e.size);
        EXPECT_EQ(u32(entry + 20), static_cast<uint32_t>(e.type));
        entry += u32(entry) + 4;  // how a kernel walks the map
    }
}

TEST_F(LoaderMultiboot, WithoutInitrdOrArgumentsThereIsNoModuleAndTheNameAlone) {
    auto setup = load(build_elf(multiboot_spec()));
    ASSERT_TRUE(setup) << setup.error().message;
    const uint64_t mbi = setup->bsp.gpr[hv::RBX];
    EXPECT_EQ(u32(mbi + 20), 0u);
    EXPECT_EQ(string_at(u32(mbi + 16)), "x86/test.flat");
}

TEST_F(LoaderMultiboot, LoadsBelowOneMiBWherePopeksPvhPagesWouldBe) {
    // kvm-unit-tests' realmode.flat is linked at 0x8000 (the PVH start info page) and runs up to
    // 0xe000 (the PVH command line is at 0x9000).
    test::ElfSpec spec = multiboot_spec(0, 0x8000);
    spec.segments[0].memsz = 0x6000;
    auto setup = load(build_elf(spec), "x");
    ASSERT_TRUE(setup) << setup.error().message;
    EXPECT_EQ(setup->bsp.rip, 0x8010u);
    EXPECT_EQ(mem->read_obj<uint32_t>(0x8000).value_or(0), 0x1BADB002u);
}

TEST_F(LoaderMultiboot, EntryIsTranslatedFromTheVirtualAddress) {
    test::ElfSpec spec = multiboot_spec();
    spec.segments[0].vaddr = 0xc0100000;
    spec.entry = 0xc0100020;
    auto setup = load(build_elf(spec));
    ASSERT_TRUE(setup) << setup.error().message;
    EXPECT_EQ(setup->bsp.rip, 0x100020u);
    spec.entry = 0xc0100000 + 0x200;  // in p_memsz, not in the file bytes
    expect_error(build_elf(spec), "entry point 0xc0100200 is not inside a loaded ELF segment");
}

TEST_F(LoaderMultiboot, RefusesWhatItCannotHonour) {
    expect_error(build_elf(multiboot_spec(1u << 2)), "video mode");
    expect_error(build_elf(multiboot_spec(1u << 5)), "requirement flags 0x20");
    expect_error(build_elf(multiboot_spec(1u << 16)), "bit 16");
    EXPECT_TRUE(load(build_elf(multiboot_spec(1u << 20)))) << "optional bits 17-31 are ignored";
    test::ElfSpec spec = multiboot_spec();
    spec.machine = kEmX86_64;
    expect_error(build_elf(spec), "EM_386");
    spec = multiboot_spec();
    spec.segments[0].data[8] ^= 0x40;  // checksum broken: no header at all
    expect_error(build_elf(spec), "neither a Xen PVH entry note nor a multiboot header");
}

TEST_F(LoaderMultiboot, RejectsBadPlacementAndCommandLines) {
    test::ElfSpec spec = multiboot_spec(0, 0xe1000);
    expect_error(build_elf(spec), "overlaps ACPI tables");
    EXPECT_TRUE(load(build_elf(spec), {}, {}, 0)) << "without ACPI the BIOS area is free";
    spec = multiboot_spec();
    spec.segments[0].memsz = kMemSize - 0x100000 - 0x800;  // the image runs to the top of RAM
    expect_error(build_elf(spec), "multiboot information");
    spec.segments[0].memsz = kMemSize;
    expect_error(build_elf(spec), "outside guest RAM");
    expect_error(build_elf(multiboot_spec()), "limit is 4095", std::string(4090, 'a'));
    expect_error(build_elf(multiboot_spec()), "NUL", std::string("a\0b", 3));
    auto r = load(build_elf(multiboot_spec()), {}, std::vector<uint8_t>(kMemSize, 1));
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find("initrd (multiboot module)"), std::string::npos) << r.error().message;
}

}  // namespace
}  // namespace popek::loader
