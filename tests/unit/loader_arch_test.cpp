// Boot GDT descriptors and the E820 map.
#include <gtest/gtest.h>

#include "arch/x86_64/boot_layout.h"
#include "arch/x86_64/e820.h"
#include "arch/x86_64/segments.h"

namespace popek::arch {
namespace {

TEST(LoaderArch, GdtDescriptorsMatchTheSdmEncodings) {
    // Reference encodings of flat descriptors (SDM Vol. 3A 3.4.5): G=1, limit 0xfffff, P=1, S=1.
    EXPECT_EQ(encode_descriptor(flat_code32_segment()), 0x00cf9b000000ffffull);
    EXPECT_EQ(encode_descriptor(code64_segment()), 0x00af9b000000ffffull);
    EXPECT_EQ(encode_descriptor(flat_data_segment()), 0x00cf93000000ffffull);
    EXPECT_EQ(encode_descriptor(boot_tss_segment()), 0x00008b0000000067ull);
    auto gdt = boot_gdt_entries();
    EXPECT_EQ(gdt[0], 0u);
    EXPECT_EQ(gdt[kSelCode64 / 8], encode_descriptor(code64_segment()));
    EXPECT_EQ(gdt[kSelData / 8], encode_descriptor(flat_data_segment()));
    EXPECT_EQ(gdt[kSelTss / 8 + 1], 0u);
    EXPECT_EQ(kBootGdtLimit + 1u, gdt.size() * 8);
}

TEST(LoaderArch, E820OfSmallGuest) {
    auto mem = memory::GuestMemory::create(256ull << 20);
    ASSERT_TRUE(mem);
    std::vector<E820Entry> expected{
        {0, 0x9fc00, E820Type::Ram},
        {0x9fc00, 0x400, E820Type::Reserved},
        {0xe0000, 0x20000, E820Type::Reserved},
        {0x100000, (256ull << 20) - 0x100000, E820Type::Ram},
    };
    EXPECT_EQ(build_e820(*mem), expected);
}

TEST(LoaderArch, E820OfGuestAboveTheHole) {
    auto mem = memory::GuestMemory::create(memory::kMmioHoleStart + (64ull << 20));
    ASSERT_TRUE(mem);
    auto map = build_e820(*mem);
    ASSERT_EQ(map.size(), 5u);
    EXPECT_EQ(map[3], (E820Entry{0x100000, memory::kMmioHoleStart - 0x100000, E820Type::Ram}));
    EXPECT_EQ(map[4], (E820Entry{memory::kHighRamStart, 64ull << 20, E820Type::Ram}));
    for (size_t i = 1; i < map.size(); ++i) EXPECT_LE(map[i - 1].addr + map[i - 1].size, map[i].addr);
}

TEST(LoaderArch, LayoutFitsBelowTheEbda) {
    EXPECT_LE(kStacksEnd, kEbdaStart);
    EXPECT_EQ(kMaxOwnGuestVcpus, 32);
    EXPECT_LE(kPageTablesAddr + kPageTablesSize, kBootInfoAddr);
    EXPECT_LT(kCmdlineAddr + kPageSize, kStacksAddr + 1);
}

}  // namespace
}  // namespace popek::arch
