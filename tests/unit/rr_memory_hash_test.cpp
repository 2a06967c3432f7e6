// The End event's hash of guest RAM (src/replay/memory_hash.h, log version 3): zero pages add
// nothing whether the host ever allocated them or not, every non-zero byte and its address
// count, and the pages never touched are not read (so the host does not allocate them).
#include <gtest/gtest.h>
#include <sodium.h>
#include <unistd.h>

#include "memory/guest_memory.h"
#include "replay/memory_hash.h"

namespace popek::replay {
namespace {

/// Two zeroed 16 MiB guest memories and a hasher.
class MemoryHash : public ::testing::Test {
protected:
    void SetUp() override {
        ASSERT_GE(sodium_init(), 0);
        ASSERT_TRUE(a && b);
    }
    Result<memory::GuestMemory> a = memory::GuestMemory::create(16 << 20);
    Result<memory::GuestMemory> b = memory::GuestMemory::create(16 << 20);
    MemoryHasher h;
};

TEST_F(MemoryHash, ZeroPagesAddNothingTouchedOrNot) {
    const auto empty = h.hash(*a);
    // Written and then zeroed again: the host has the page, its bytes are zero.
    a->regions()[0].host[5 * 4096 + 7] = 1;
    a->regions()[0].host[5 * 4096 + 7] = 0;
    EXPECT_EQ(h.hash(*a), empty);
    EXPECT_EQ(h.hash(*b), empty);
}

TEST_F(MemoryHash, EveryByteAndItsAddressCount) {
    a->regions()[0].host[3 * 4096 + 100] = 0x42;
    b->regions()[0].host[3 * 4096 + 100] = 0x42;
    EXPECT_EQ(h.hash(*a), h.hash(*b));
    b->regions()[0].host[3 * 4096 + 101] = 1;   // one more byte
    EXPECT_NE(h.hash(*a), h.hash(*b));
    b->regions()[0].host[3 * 4096 + 101] = 0;
    b->regions()[0].host[3 * 4096 + 100] = 0;
    b->regions()[0].host[4 * 4096 + 100] = 0x42;   // the same page contents one page higher
    EXPECT_NE(h.hash(*a), h.hash(*b));
}

TEST(MemoryHashLarge, PagesNeverTouchedAreNotRead) {
    ASSERT_GE(sodium_init(), 0);
    auto a = memory::GuestMemory::create(64 << 20);
    ASSERT_TRUE(a);
    MemoryHasher h;
    a->regions()[0].host[0] = 1;
    (void)h.hash(*a);
    // Without /proc/self/pagemap every page is read. With transparent huge pages the first
    // write allocated 2 MiB, 512 pages.
    if (::access("/proc/self/pagemap", R_OK) != 0) GTEST_SKIP() << "no /proc/self/pagemap here";
    EXPECT_LE(h.pages_read(), 512u);
    EXPECT_GE(h.pages_read(), 1u);
}

}  // namespace
}  // namespace popek::replay
