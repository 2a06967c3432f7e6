// bzImage through the 64-bit boot protocol: zero page contents, entry state, header checks.
#include <asm/bootparam.h>

#include <gtest/gtest.h>

#include "arch/x86_64/boot_layout.h"
#include "arch/x86_64/e820.h"
#include "arch/x86_64/segments.h"
#include "loader/loader.h"
#include "loader_images.h"

namespace popek::loader {
namespace {

using namespace test;

class LoaderBzImage : public ::testing::Test {
protected:
    void SetUp() override {
        auto m = memory::GuestMemory::create(kMemSize);
        ASSERT_TRUE(m) << m.error().message;
        mem.emplace(std::move(*m));
    }
    Result<BootSetup> load(const std::vector<uint8_t>& kernel, std::string cmdline = {},
                           std::vector<uint8_t> initrd_bytes = {}) {
        initrd = std::move(initrd_bytes);
        return load_kernel(*mem, LoadRequest{kernel, initrd, std::move(cmdline), 1});
    }
    void expect_error(const std::vector<uint8_t>& kernel, const std::string& needle, std::string cmdline = {},
                      std::vector<uint8_t> initrd_bytes = {}) {
        auto r = load(kernel, std::move(cmdline), std::move(initrd_bytes));
        ASSERT_FALSE(r) << "loaded an image that should fail with '" << needle << "'";
        EXPECT_NE(r.error().message.find(needle), std::string::npos) << r.error().message;
    }
    static constexpr uint64_t kMemSize = 64ull << 20;
    std::optional<memory::GuestMemory> mem;
    std::vector<uint8_t> initrd;
};

TEST_F(LoaderBzImage, LoadsKernelAndBuildsZeroPage) {
    BzSpec spec;
    std::vector<uint8_t> image = build_bzimage(spec);
    auto setup = load(image, "console=ttyS0", std::vector<uint8_t>(12345, 0x5a));
    ASSERT_TRUE(setup) << setup.error().message;
    EXPECT_EQ(setup->format, KernelFormat::BzImage);
    EXPECT_EQ(setup->ap_start, ApStart::WaitForSipi);

    const hv::CpuState& st = setup->bsp;
    EXPECT_EQ(st.rip, 0x1000200u);
    EXPECT_EQ(st.gpr[hv::RSI], arch::kBootInfoAddr);
    EXPECT_EQ(st.gpr[hv::RSP], arch::kBootStackTop);
    EXPECT_EQ(st.cs.selector, 0x10) << "__BOOT_CS";
    EXPECT_EQ(st.ds.selector, 0x18) << "__BOOT_DS";
    EXPECT_EQ(st.ss.selector, 0x18);
    EXPECT_TRUE(st.cs.l);
    EXPECT_TRUE(st.efer & hv::kEferLma);
    EXPECT_TRUE(st.cr0 & hv::kCr0Pg);
    EXPECT_EQ(st.rflags & (1u << 9), 0u);

    // The protected-mode kernel, byte for byte, at the load address.
    size_t setup_size = 2 * 512;
    std::vector<uint8_t> loaded(image.size() - setup_size);
    ASSERT_TRUE(mem->read(0x1000000, loaded));
    EXPECT_TRUE(std::equal(loaded.begin(), loaded.end(), image.begin() + static_cast<long>(setup_size)));

    auto bp = std::make_unique<boot_params>();
    ASSERT_TRUE(mem->read(arch::kBootInfoAddr, std::span(reinterpret_cast<uint8_t*>(bp.get()), sizeof(boot_params))));
    EXPECT_EQ(bp->hdr.header, 0x53726448u);
    EXPECT_EQ(bp->hdr.version, 0x020fu);
    EXPECT_EQ(bp->hdr.type_of_loader, 0xffu);
    EXPECT_EQ(bp->hdr.code32_start, 0x1000000u);
    EXPECT_EQ(bp->hdr.init_size, spec.init_size);
    EXPECT_EQ(bp->sentinel, 0u);
    std::string cmdline(13, '\0');
    ASSERT_TRUE(mem->read(bp->hdr.cmd_line_ptr, std::span(reinterpret_cast<uint8_t*>(cmdline.data()), 13)));
    EXPECT_EQ(cmdline, "console=ttyS0");
    EXPECT_EQ(mem->read_obj<uint8_t>(bp->hdr.cmd_line_ptr + 13).value(), 0);

    EXPECT_EQ(bp->hdr.ramdisk_size, 12345u);
    EXPECT_EQ(bp->hdr.ramdisk_image % 4096, 0u);
    EXPECT_GE(bp->hdr.ramdisk_image, 0x1000000u + spec.init_size) << "initrd inside the kernel's init_size";
    EXPECT_LE(uint64_t{bp->hdr.ramdisk_image} + bp->hdr.ramdisk_size, kMemSize);
    std::vector<uint8_t> rd(12345);
    ASSERT_TRUE(mem->read(bp->hdr.ramdisk_image, rd));
    EXPECT_EQ(rd, initrd);

    std::vector<arch::E820Entry> expected = arch::build_e820(*mem);
    ASSERT_EQ(bp->e820_entries, expected.size());
    for (size_t i = 0; i < expected.size(); ++i) {
        EXPECT_EQ(bp->e820_table[i].addr, expected[i].addr);
        EXPECT_EQ(bp->e820_table[i].size, expected[i].size);
        EXPECT_EQ(bp->e820_table[i].type, static_cast<uint32_t>(expected[i].type));
    }
}

TEST_F(LoaderBzImage, PassesTheAcpiRsdp) {
    auto image = build_bzimage(BzSpec{});
    auto setup = load_kernel(*mem, LoadRequest{image, {}, {}, 1, 0xe0000});
    ASSERT_TRUE(setup) << setup.error().message;
    EXPECT_EQ(mem->read_obj<uint64_t>(arch::kBootInfoAddr + offsetof(boot_params, acpi_rsdp_addr)).value(), 0xe0000u);
}

TEST_F(LoaderBzImage, HonoursAlignmentAndInitrdAddrMax) {
    BzSpec spec;
    spec.pref_address = 0x1100000;       // not 2 MiB aligned: a relocatable kernel goes up to 0x1200000
    spec.initrd_addr_max = 0x1ffffff;    // initrd must end at or below 32 MiB
    auto setup = load(build_bzimage(spec), {}, std::vector<uint8_t>(0x3000, 1));
    ASSERT_TRUE(setup) << setup.error().message;
    EXPECT_EQ(setup->bsp.rip, 0x1200200u);
    uint32_t rd = mem->read_obj<uint32_t>(arch::kBootInfoAddr + kBzRamdiskImage).value();
    EXPECT_LE(rd + 0x3000u, 0x2000000u);
    EXPECT_GE(rd, 0x1200000u + spec.init_size);
}

TEST_F(LoaderBzImage, EveryTruncationOfTheHeaderFailsCleanly) {
    std::vector<uint8_t> full = build_bzimage(BzSpec{});
    for (size_t len = 0; len <= 2 * 512; ++len) {
        std::vector<uint8_t> cut(full.begin(), full.begin() + static_cast<long>(len));
        auto r = load(cut);
        EXPECT_FALSE(r) << "truncated to " << len << " bytes was accepted";
        if (!r) {
                    EXPECT_FALSE(r.error().message.empty());
                }
    }
}

TEST_F(LoaderBzImage, RejectsBadHeaders) {
    auto good = build_bzimage(BzSpec{});
    auto bad = good;
    put(bad, kBzMagic, 0x53726449, 4);
    expect_error(bad, "not an ELF or bzImage");
    bad = good;
    put(bad, kBzBootFlag, 0x1234, 2);
    expect_error(bad, "boot_flag is 0x1234");
    BzSpec old;
    old.version = 0x020a;
    expect_error(build_bzimage(old), "boot protocol 2.10 is too old");
    BzSpec no64;
    no64.xloadflags = 0;
    expect_error(build_bzimage(no64), "XLF_KERNEL_64");
    bad = good;
    bad[kBzSetupSects] = 200;  // setup claims 100 KiB in a 5 KiB file
    expect_error(bad, "setup_sects 200 puts the kernel at 0x19200, past the end");
    bad = good;
    put(bad, kBzSyssize, 0x10000, 4);
    expect_error(bad, "syssize says");
    bad = good;
    bad[kBzJump + 1] = 0x20;  // header too short for protocol 2.12 fields
    expect_error(bad, "setup header ends at");
    BzSpec align;
    align.kernel_alignment = 0x300000;
    expect_error(build_bzimage(align), "kernel_alignment 0x300000 is not a power of two");
    BzSpec zero;
    zero.init_size = 0;
    expect_error(build_bzimage(zero), "init_size is 0");
    BzSpec low;
    low.pref_address = 0x8000;
    low.relocatable = 0;
    expect_error(build_bzimage(low), "outside [1 MiB, 4 GiB)");
}

TEST_F(LoaderBzImage, RejectsWhatDoesNotFit) {
    BzSpec big;
    big.init_size = 0x8000000;  // 128 MiB of init_size in 64 MiB of RAM
    expect_error(build_bzimage(big), "kernel (init_size) at [0x1000000, 0x9000000) lies outside guest RAM");
    BzSpec small_cmdline;
    small_cmdline.cmdline_size = 8;
    expect_error(build_bzimage(small_cmdline), "command line is 9 bytes, the limit is 8", "123456789");
    EXPECT_TRUE(load(build_bzimage(small_cmdline), "12345678"));
    BzSpec low_initrd;
    low_initrd.initrd_addr_max = 0x13fffff;  // below the kernel's end: no room at all
    expect_error(build_bzimage(low_initrd), "initrd (4096 bytes) does not fit", {}, std::vector<uint8_t>(4096, 1));
}

TEST_F(LoaderBzImage, AnInitrdLimitBelowTheKernelNamesTheHeaderNotMemory) {
    // initrd_addr_max 0 (issue 19) was answered "raise --mem", which cannot help: the header field is named instead.
    BzSpec zero_limit;
    zero_limit.initrd_addr_max = 0;
    auto r = load(build_bzimage(zero_limit), {}, std::vector<uint8_t>(4096, 1));
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find("initrd_addr_max 0x0"), std::string::npos) << r.error().message;
    EXPECT_EQ(r.error().message.find("raise --mem"), std::string::npos) << r.error().message;
    // An initrd larger than RAM under a high limit still is told that more RAM would help.
    auto big = load(build_bzimage(BzSpec{}), {}, std::vector<uint8_t>(kMemSize, 1));
    ASSERT_FALSE(big);
    EXPECT_NE(big.error().message.find("raise --mem"), std::string::npos) << big.error().message;
}

}  // namespace
}  // namespace popek::loader
