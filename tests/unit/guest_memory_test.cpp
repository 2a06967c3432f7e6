// GuestMemory: layout around the MMIO hole and bounds checks on every access path.
#include <gtest/gtest.h>

#include "memory/guest_memory.h"

using popek::memory::GuestMemory;
using popek::memory::kHighRamStart;
using popek::memory::kMmioHoleStart;

TEST(GuestMemory, RejectsBadSizes) {
    EXPECT_FALSE(GuestMemory::create(0));
    EXPECT_FALSE(GuestMemory::create(4095));
    EXPECT_TRUE(GuestMemory::create(4096));
}

TEST(GuestMemory, SmallRamIsOneRegionAtZero) {
    auto mem = GuestMemory::create(16 << 20);
    ASSERT_TRUE(mem);
    ASSERT_EQ(mem->regions().size(), 1u);
    EXPECT_EQ(mem->regions()[0].base, 0u);
    EXPECT_EQ(mem->regions()[0].size, 16u << 20);
}

TEST(GuestMemory, LargeRamSplitsAroundTheHole) {
    uint64_t size = kMmioHoleStart + (64 << 20);
    auto mem = GuestMemory::create(size);
    ASSERT_TRUE(mem);
    ASSERT_EQ(mem->regions().size(), 2u);
    EXPECT_EQ(mem->regions()[0].size, kMmioHoleStart);
    EXPECT_EQ(mem->regions()[1].base, kHighRamStart);
    EXPECT_EQ(mem->regions()[1].size, 64u << 20);
    EXPECT_FALSE(mem->contains(kMmioHoleStart, 1)) << "the hole is not RAM";
    EXPECT_TRUE(mem->contains(kHighRamStart + (64 << 20) - 8, 8));
    EXPECT_FALSE(mem->contains(kHighRamStart + (64 << 20) - 4, 8));
}

TEST(GuestMemory, ReadWriteRoundTrip) {
    auto mem = GuestMemory::create(1 << 20);
    ASSERT_TRUE(mem);
    ASSERT_TRUE(mem->write_obj<uint64_t>(0x1000, 0x1122334455667788));
    auto v = mem->read_obj<uint64_t>(0x1000);
    ASSERT_TRUE(v);
    EXPECT_EQ(*v, 0x1122334455667788u);
    auto b = mem->read_obj<uint8_t>(0x1000);
    EXPECT_EQ(*b, 0x88u);
}

TEST(GuestMemory, EveryAccessPathIsBoundsChecked) {
    const uint64_t size = 1 << 20;
    auto mem = GuestMemory::create(size);
    ASSERT_TRUE(mem);
    uint8_t buf[16] = {};
    EXPECT_TRUE(mem->read(size - 16, buf));
    EXPECT_FALSE(mem->read(size - 15, buf)) << "straddles the end";
    EXPECT_FALSE(mem->write(size, std::span<const uint8_t>(buf, 1)));
    EXPECT_FALSE(mem->read(~uint64_t{0} - 4, buf)) << "address + length wraps";
    EXPECT_FALSE(mem->slice(size - 1, 2));
    EXPECT_FALSE(mem->slice(0, ~uint64_t{0}));
    EXPECT_EQ(mem->host_ptr(size - 1, 2), nullptr);
    EXPECT_EQ(mem->host_ptr(~uint64_t{0}, 2), nullptr);
    EXPECT_FALSE(mem->read_obj<uint32_t>(size - 2));
}

TEST(GuestMemory, PagesAreBackedLazily) {
    auto mem = GuestMemory::create(64 << 20);
    ASSERT_TRUE(mem);
    uint64_t before = mem->resident_bytes();
    EXPECT_LT(before, 1u << 20) << "fresh RAM must not be populated";
    uint8_t one = 1;
    for (uint64_t a = 0; a < (8 << 20); a += 4096) ASSERT_TRUE(mem->write(a, std::span<const uint8_t>(&one, 1)));
    EXPECT_GE(mem->resident_bytes(), before + (8u << 20) - 4096);
}
