// PVH and own-guest ABI loading: what lands in guest RAM and the entry state.
#include <stdint.h>
#include <xen/arch-x86/hvm/start_info.h>

#include <gtest/gtest.h>

#include "arch/x86_64/boot_layout.h"
#include "arch/x86_64/e820.h"
#include "arch/x86_64/segments.h"
#include "loader/elf.h"
#include "loader/loader.h"
#include "loader_images.h"

namespace popek::loader {
namespace {

using test::build_elf;

class LoaderBoot : public ::testing::Test {
protected:
    void SetUp() override {
        auto m = memory::GuestMemory::create(kMemSize);
        ASSERT_TRUE(m) << m.error().message;
        mem.emplace(std::move(*m));
    }
    Result<BootSetup> load(const std::vector<uint8_t>& kernel, std::string cmdline = {},
                           std::vector<uint8_t> initrd_bytes = {}, int vcpus = 1) {
        initrd = std::move(initrd_bytes);
        return load_kernel(*mem, LoadRequest{kernel, initrd, std::move(cmdline), vcpus});
    }
    void expect_error(const std::vector<uint8_t>& kernel, const std::string& needle, std::string cmdline = {},
                      std::vector<uint8_t> initrd_bytes = {}, int vcpus = 1) {
        auto r = load(kernel, std::move(cmdline), std::move(initrd_bytes), vcpus);
        ASSERT_FALSE(r) << "loaded an image that should fail with '" << needle << "'";
        EXPECT_NE(r.error().message.find(needle), std::string::npos) << r.error().message;
    }
    template <class T>
    T read(uint64_t gpa) {
        auto v = mem->read_obj<T>(gpa);
        EXPECT_TRUE(v) << v.error().message;
        return v.value_or(T{});
    }
    std::string read_string(uint64_t gpa) {
        std::string s;
        for (char c; (c = static_cast<char>(read<uint8_t>(gpa + s.size()))) != 0;) s.push_back(c);
        return s;
    }

    static constexpr uint64_t kMemSize = 64ull << 20;
    std::optional<memory::GuestMemory> mem;
    std::vector<uint8_t> initrd;
};

std::vector<uint8_t> pattern(size_t n, uint8_t seed) {
    std::vector<uint8_t> v(n);
    for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(seed + i * 13);
    return v;
}

TEST_F(LoaderBoot, PvhElf32BuildsStartInfo) {
    test::ElfSpec spec = test::pvh_spec(false, 4);
    spec.segments[0].data = pattern(0x200, 1);
    auto setup = load(build_elf(spec), "console=ttyS0 quiet", pattern(10000, 7));
    ASSERT_TRUE(setup) << setup.error().message;
    EXPECT_EQ(setup->format, KernelFormat::Pvh);
    EXPECT_EQ(setup->ap_start, ApStart::WaitForSipi);

    // Segment contents, then the zeroed rest of p_memsz.
    EXPECT_EQ(read<uint8_t>(0x100000 + 0x1ff), pattern(0x200, 1)[0x1ff]);
    EXPECT_EQ(read<uint64_t>(0x100000 + 0x200), 0u);

    const hv::CpuState& st = setup->bsp;
    EXPECT_EQ(st.rip, 0x100010u);  // from the note, not e_entry
    EXPECT_EQ(st.gpr[hv::RBX], arch::kBootInfoAddr);
    EXPECT_EQ(st.gpr[hv::RSP], arch::kBootStackTop);
    EXPECT_EQ(st.cr0, hv::kCr0Pe | hv::kCr0Et);
    EXPECT_EQ(st.cr4, 0u);
    EXPECT_EQ(st.efer, 0u);
    EXPECT_EQ(st.rflags & (1u << 9), 0u);
    EXPECT_TRUE(st.cs.db);
    EXPECT_FALSE(st.cs.l);
    EXPECT_EQ(st.cs.limit, 0xffffffffu);
    EXPECT_EQ(st.cs.base, 0u);
    EXPECT_EQ(st.ss.selector, arch::kSelData);
    EXPECT_EQ(st.tr.limit, 0x67u);
    EXPECT_FALSE(st.tr.s);

    auto info = read<hvm_start_info>(st.gpr[hv::RBX]);
    EXPECT_EQ(info.magic, XEN_HVM_START_MAGIC_VALUE);
    EXPECT_EQ(info.version, 1u);
    EXPECT_EQ(read_string(info.cmdline_paddr), "console=ttyS0 quiet");
    ASSERT_EQ(info.nr_modules, 1u);
    auto module = read<hvm_modlist_entry>(info.modlist_paddr);
    EXPECT_EQ(module.size, 10000u);
    EXPECT_EQ(module.paddr % 4096, 0u);
    EXPECT_GE(module.paddr, 0x103000u) << "initrd overlaps the kernel";
    EXPECT_LE(module.paddr + module.size, kMemSize);
    EXPECT_GT(module.paddr, kMemSize / 2) << "initrd should sit high in RAM";
    std::vector<uint8_t> back(module.size);
    ASSERT_TRUE(mem->read(module.paddr, back));
    EXPECT_EQ(back, initrd);

    std::vector<arch::E820Entry> expected = arch::build_e820(*mem);
    ASSERT_EQ(info.memmap_entries, expected.size());
    for (size_t i = 0; i < expected.size(); ++i) {
        auto e = read<hvm_memmap_table_entry>(info.memmap_paddr + i * sizeof(hvm_memmap_table_entry));
        EXPECT_EQ(e.addr, expected[i].addr);
        EXPECT_EQ(e.size, expected[i].size);
        EXPECT_EQ(e.type, static_cast<uint32_t>(expected[i].type));
    }
    EXPECT_EQ(read<uint64_t>(arch::kBootGdtAddr + arch::kSelCode32), arch::boot_gdt_entries()[1]);
}

TEST_F(LoaderBoot, PvhElf64WithLinuxStyleNoteAndNoInitrd) {
    auto setup = load(build_elf(test::pvh_spec(true, 8)));
    ASSERT_TRUE(setup) << setup.error().message;
    EXPECT_EQ(setup->bsp.rip, 0x100010u);
    auto info = read<hvm_start_info>(arch::kBootInfoAddr);
    EXPECT_EQ(info.nr_modules, 0u);
    EXPECT_EQ(info.modlist_paddr, 0u);
    EXPECT_EQ(read_string(info.cmdline_paddr), "");
}

TEST_F(LoaderBoot, PvhElf32MarkedX86_64BootsAsXenBootsIt) {
    test::ElfSpec spec = test::pvh_spec(false, 4);
    spec.machine = kEmX86_64;  // how XTF links its hvm64 images
    auto setup = load(build_elf(spec));
    ASSERT_TRUE(setup) << setup.error().message;
    EXPECT_EQ(setup->format, KernelFormat::Pvh);
    EXPECT_EQ(setup->bsp.rip, 0x100010u);
    spec.notes.clear();
    expect_error(build_elf(spec), "neither a Xen PVH entry note nor a multiboot header");
}

TEST_F(LoaderBoot, PvhRejectsBadNotesAndPlacement) {
    test::ElfSpec spec = test::pvh_spec(false, 2);
    expect_error(build_elf(spec), "2-byte descriptor");
    spec = test::pvh_spec(true, 8);
    test::put(spec.notes[0].desc, 0, 0x1'0000'0000ull, 8);
    expect_error(build_elf(spec), "not a 32-bit address");
    spec = test::pvh_spec(false, 4);
    test::put(spec.notes[0].desc, 0, 0x100300, 4);  // in p_memsz but not in the file bytes
    expect_error(build_elf(spec), "entry point 0x100300 is not inside a loaded ELF segment");
    spec = test::pvh_spec(false, 4);
    spec.segments.push_back({0x1800, {1, 2, 3}, 0});
    expect_error(build_elf(spec), "overlaps boot GDT");
    spec = test::pvh_spec(false, 4);
    spec.segments.push_back({0x8800, {1, 2, 3}, 0});
    expect_error(build_elf(spec), "overlaps PVH start info");
    spec = test::pvh_spec(false, 4);
    spec.segments.push_back({0x12000, {1, 2, 3}, 0});
    expect_error(build_elf(spec), "overlaps boot stack");
    spec = test::pvh_spec(false, 4);
    spec.segments.push_back({kMemSize - 0x10, {1, 2, 3}, 0x20});
    expect_error(build_elf(spec), "lies outside guest RAM");
    spec = test::pvh_spec(false, 4);
    spec.segments.push_back({0x100100, {1}, 0});
    expect_error(build_elf(spec), "ELF program header 1 at [0x100100, 0x100101) overlaps ELF program header 0");
}

TEST_F(LoaderBoot, AcpiRsdpIsPassedAndItsAreaReserved) {
    auto kernel = build_elf(test::pvh_spec(false, 4));
    auto setup = load_kernel(*mem, LoadRequest{kernel, {}, {}, 1, 0xe0000});
    ASSERT_TRUE(setup) << setup.error().message;
    EXPECT_EQ(read<hvm_start_info>(arch::kBootInfoAddr).rsdp_paddr, 0xe0000u);
    test::ElfSpec spec = test::pvh_spec(false, 4);
    spec.segments.push_back({0xf0000, {1, 2}, 0});
    auto clash = build_elf(spec);
    auto r = load_kernel(*mem, LoadRequest{clash, {}, {}, 1, 0xe0000});
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find("overlaps ACPI tables"), std::string::npos) << r.error().message;
    EXPECT_TRUE(load_kernel(*mem, LoadRequest{clash, {}, {}, 1, 0})) << "without ACPI the BIOS area is free";
    // The own ABI never gets ACPI tables, so it may use the BIOS area even when a caller passes an RSDP.
    test::ElfSpec own = test::own_spec();
    own.segments.push_back({0xf0000, {1, 2}, 0});
    auto own_image = build_elf(own);
    EXPECT_TRUE(load_kernel(*mem, LoadRequest{own_image, {}, {}, 1, 0xe0000}));
}

TEST_F(LoaderBoot, RejectsTooLongCmdlineAndTooLargeInitrd) {
    auto pvh = build_elf(test::pvh_spec(false, 4));
    expect_error(pvh, "command line is 5000 bytes, the limit is 4095", std::string(5000, 'x'));
    expect_error(pvh, "command line contains a NUL", std::string("a\0b", 3));
    EXPECT_TRUE(load(pvh, std::string(4095, 'x')));
    expect_error(pvh, "initrd (67108864 bytes) does not fit", {}, std::vector<uint8_t>(kMemSize, 1));
    expect_error(build_elf(test::own_spec()), "initrd", {}, std::vector<uint8_t>(kMemSize - 0x100000, 1));
}

TEST_F(LoaderBoot, OwnGuestEntersLongModeWithIdentityMap) {
    test::ElfSpec spec = test::own_spec();
    spec.entry = 0x100040;
    auto setup = load(build_elf(spec), "hello", pattern(5000, 3), 4);
    ASSERT_TRUE(setup) << setup.error().message;
    EXPECT_EQ(setup->format, KernelFormat::Elf64);
    EXPECT_EQ(setup->ap_start, ApStart::AtEntry);
    const hv::CpuState& st = setup->bsp;
    EXPECT_EQ(st.rip, 0x100040u);
    EXPECT_TRUE(st.cs.l);
    EXPECT_FALSE(st.cs.db);
    EXPECT_EQ(st.cs.selector, arch::kSelCode64);
    EXPECT_EQ(st.ds.selector, arch::kSelData);
    EXPECT_EQ(st.efer, hv::kEferLme | hv::kEferLma | hv::kEferSce);
    EXPECT_TRUE(st.cr0 & hv::kCr0Pg);
    EXPECT_TRUE(st.cr0 & hv::kCr0Pe);
    EXPECT_TRUE(st.cr4 & hv::kCr4Pae);
    EXPECT_EQ(st.idt.limit, 0u);
    EXPECT_EQ(st.gdt.base, arch::kBootGdtAddr);
    EXPECT_EQ(st.gpr[hv::RDI], 0u);
    EXPECT_EQ(st.gpr[hv::RSI], 4u);
    EXPECT_EQ(st.gpr[hv::RSP], arch::kStacksAddr + arch::kStackSize);
    EXPECT_EQ(read_string(st.gpr[hv::RDX]), "hello");
    EXPECT_EQ(st.gpr[hv::R8], 5000u);
    std::vector<uint8_t> back(5000);
    ASSERT_TRUE(mem->read(st.gpr[hv::RCX], back));
    EXPECT_EQ(back, initrd);

    // Walk the page tables for a few addresses: each must map onto itself.
    for (uint64_t va : {0x0ull, 0x100040ull, 0x3fffffull, 0xbfe00123ull, 0xfee00000ull, 0xffffffffull}) {
        uint64_t pml4e = read<uint64_t>(st.cr3 + ((va >> 39) & 511) * 8);
        ASSERT_TRUE(pml4e & 1);
        uint64_t pdpte = read<uint64_t>((pml4e & ~0xfffull) + ((va >> 30) & 511) * 8);
        ASSERT_TRUE(pdpte & 1);
        ASSERT_FALSE(pdpte & 0x80);
        uint64_t pde = read<uint64_t>((pdpte & ~0xfffull) + ((va >> 21) & 511) * 8);
        ASSERT_TRUE(pde & 1);
        ASSERT_TRUE(pde & 0x80) << "2 MiB page expected";
        EXPECT_EQ((pde & ~0x1fffffull & ((1ull << 52) - 1)) | (va & 0x1fffff), va);
    }
    auto gdt = arch::boot_gdt_entries();
    for (size_t i = 0; i < gdt.size(); ++i) EXPECT_EQ(read<uint64_t>(arch::kBootGdtAddr + i * 8), gdt[i]);
}

TEST_F(LoaderBoot, OwnGuestApsGetTheirIndexAndStack) {
    auto setup = load(build_elf(test::own_spec()), {}, {}, 3);
    ASSERT_TRUE(setup) << setup.error().message;
    EXPECT_EQ(setup->bsp.gpr[hv::RDX], 0u) << "empty cmdline is passed as 0";
    EXPECT_EQ(setup->bsp.gpr[hv::RCX], 0u);
    for (int i = 1; i < 3; ++i) {
        hv::CpuState ap = ap_entry_state(*setup, i, 3);
        EXPECT_EQ(ap.gpr[hv::RDI], static_cast<uint64_t>(i));
        EXPECT_EQ(ap.gpr[hv::RSI], 3u);
        EXPECT_EQ(ap.gpr[hv::RSP], arch::kStacksAddr + arch::kStackSize * static_cast<uint64_t>(i + 1));
        EXPECT_EQ(ap.rip, setup->bsp.rip);
        EXPECT_EQ(ap.cr3, setup->bsp.cr3);
    }
}

TEST_F(LoaderBoot, OwnGuestRejectsBadLayouts) {
    test::ElfSpec spec = test::own_spec();
    spec.segments.push_back({0x10000 + 0x4000, {1}, 0});  // second vCPU's stack
    EXPECT_TRUE(load(build_elf(spec), {}, {}, 1)) << "one vCPU leaves that stack free";
    expect_error(build_elf(spec), "overlaps vCPU stacks", {}, {}, 2);
    spec = test::own_spec();
    spec.segments.push_back({0x3000, {1}, 0});
    expect_error(build_elf(spec), "overlaps boot page tables");
    spec = test::own_spec();
    spec.segments.push_back({0x9000, {1}, 0});
    expect_error(build_elf(spec), "overlaps command line");
    spec = test::own_spec();
    spec.entry = 0x500000;
    expect_error(build_elf(spec), "entry point 0x500000");
    expect_error(build_elf(test::own_spec()), "supports 1..32 vCPUs", {}, {}, 33);
    spec = test::own_spec();
    spec.is_64 = false;
    expect_error(build_elf(spec), "32-bit ELF with neither a Xen PVH entry note nor a multiboot header");
    expect_error(std::vector<uint8_t>(600, 0x55), "not an ELF or bzImage");
    expect_error({}, "not an ELF or bzImage");
}

TEST(LoaderBootHighMemory, OwnGuestRejectsSegmentsAbove4GiB) {
    auto mem = memory::GuestMemory::create(memory::kMmioHoleStart + (16ull << 20));
    ASSERT_TRUE(mem) << mem.error().message;
    test::ElfSpec spec = test::own_spec();
    spec.segments.push_back({memory::kHighRamStart, {1, 2}, 0});
    auto kernel = build_elf(spec);
    auto r = load_kernel(*mem, LoadRequest{kernel, {}, {}, 1});
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find("above the identity-mapped low 4 GiB"), std::string::npos) << r.error().message;
}

}  // namespace
}  // namespace popek::loader
