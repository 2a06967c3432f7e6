// XENMEM_decrease_reservation, XENMEM_populate_physmap, XENMEM_increase_reservation and the
// reservation counts (Xen public memory.h; pv::Balloon): a frame given back is zeroed and can be
// given back once (XTF xsa-277: the second call does 0 extents); only given-back frames come
// back, so a guest never holds more than the RAM it was configured with. Both ABIs.
#include <gtest/gtest.h>

#include <mutex>

#include "pv/hypercalls.h"
#include "pv/xen_compat.h"

using namespace popek;
using namespace popek::pv;

namespace {

constexpr uint64_t kArg = 0x8000, kList = 0x9000;
constexpr uint64_t kPages = 256;   // 1 MiB of guest RAM

struct BalloonFixture : ::testing::Test {
    memory::GuestMemory mem = memory::GuestMemory::create(kPages * kXenPageSize).value();
    PvDomain dom{mem, PvDomainConfig{.domid = 1, .name = "t", .vcpus = 1, .memory_bytes = kPages * kXenPageSize, .store_quota = {}},
                 [](int) {}};
    Hypercalls hc{dom, {}, HypercallHooks{}};

    int64_t call(uint64_t cmd, uint64_t arg = kArg, bool compat = false) {
        uint64_t result = 0;
        hv::Hypercall h{__HYPERVISOR_memory_op, {cmd, arg, 0, 0, 0}, &result, compat};
        return static_cast<int64_t>(hc.handle(0, h));
    }
    /// A native xen_memory_reservation at kArg for the frames `gfns`, put at kList.
    void reservation(std::initializer_list<uint64_t> gfns, uint32_t order = 0, domid_t domid = DOMID_SELF) {
        uint64_t at = kList;
        for (uint64_t g : gfns) ASSERT_TRUE(mem.write_obj(std::exchange(at, at + 8), g));
        xen_memory_reservation_t r{};
        set_xen_guest_handle(r.extent_start, reinterpret_cast<xen_pfn_t*>(kList));
        r.nr_extents = gfns.size();
        r.extent_order = order;
        r.domid = domid;
        ASSERT_TRUE(mem.write_obj(kArg, r));
    }
    int64_t reservation_count(uint64_t cmd) {
        EXPECT_TRUE(mem.write_obj(kArg, domid_t{DOMID_SELF}));
        return call(cmd);
    }
};

}  // namespace

TEST_F(BalloonFixture, DecreaseGivesAFrameBackOnceZeroedAndCountsIt) {
    ASSERT_TRUE(mem.write_obj(0x30 * kXenPageSize + 8, uint64_t{0x1234}));
    reservation({0x30});
    EXPECT_EQ(call(XENMEM_decrease_reservation), 1);
    EXPECT_EQ(mem.read_obj<uint64_t>(0x30 * kXenPageSize + 8).value(), 0u);
    EXPECT_EQ(reservation_count(XENMEM_current_reservation), static_cast<int64_t>(kPages - 1));
    EXPECT_EQ(reservation_count(XENMEM_maximum_reservation), static_cast<int64_t>(kPages));
    reservation({0x30});
    EXPECT_EQ(call(XENMEM_decrease_reservation), 0);   // already given back (XTF xsa-277)
    EXPECT_EQ(call(XENMEM_decrease_reservation), 0);
    reservation({0x31, kPages, 0x32});   // stops at the frame outside guest RAM
    EXPECT_EQ(call(XENMEM_decrease_reservation), 1);
    EXPECT_EQ(reservation_count(XENMEM_current_reservation), static_cast<int64_t>(kPages - 2));
}

TEST_F(BalloonFixture, PopulateOnlyRefillsFramesGivenBack) {
    reservation({0x40});
    EXPECT_EQ(call(XENMEM_populate_physmap), 0);   // populated already: the domain is at its maximum
    EXPECT_EQ(call(XENMEM_decrease_reservation), 1);
    EXPECT_EQ(call(XENMEM_populate_physmap), 1);
    EXPECT_EQ(call(XENMEM_populate_physmap), 0);
    reservation({kPages + 5});
    EXPECT_EQ(call(XENMEM_populate_physmap), 0);   // no RAM beyond the domain's own
    EXPECT_EQ(reservation_count(XENMEM_current_reservation), static_cast<int64_t>(kPages));
}

TEST_F(BalloonFixture, IncreaseHandsBackGivenBackFramesAndNoMore) {
    reservation({0, 0, 0});
    EXPECT_EQ(call(XENMEM_increase_reservation), 0);
    reservation({0x51, 0x50});
    EXPECT_EQ(call(XENMEM_decrease_reservation), 2);
    reservation({0, 0, 0});
    EXPECT_EQ(call(XENMEM_increase_reservation), 2);
    EXPECT_EQ(mem.read_obj<uint64_t>(kList).value(), 0x50u);
    EXPECT_EQ(mem.read_obj<uint64_t>(kList + 8).value(), 0x51u);
    EXPECT_EQ(reservation_count(XENMEM_current_reservation), static_cast<int64_t>(kPages));
}

TEST_F(BalloonFixture, OtherDomainsLargeExtentsAndBadListsAreRefused) {
    reservation({0x30}, 0, 7);
    EXPECT_EQ(call(XENMEM_decrease_reservation), -EPERM);
    reservation({0x30}, 1);
    EXPECT_EQ(call(XENMEM_decrease_reservation), 0);   // 4 KiB extents only
    xen_memory_reservation_t r{};
    set_xen_guest_handle(r.extent_start, reinterpret_cast<xen_pfn_t*>(uint64_t{1} << 40));
    r.nr_extents = 1;
    r.domid = DOMID_SELF;
    ASSERT_TRUE(mem.write_obj(kArg, r));
    EXPECT_EQ(call(XENMEM_decrease_reservation), -EFAULT);
    EXPECT_EQ(call(XENMEM_decrease_reservation, uint64_t{1} << 40), -EFAULT);
    EXPECT_EQ(reservation_count(XENMEM_current_reservation), static_cast<int64_t>(kPages));
}

TEST_F(BalloonFixture, ThirtyTwoBitCallersUseTheCompatLayout) {
    compat::MemoryReservation r{};
    r.extent_start = static_cast<uint32_t>(kList);
    r.nr_extents = 2;
    r.domid = DOMID_SELF;
    ASSERT_TRUE(mem.write_obj(kArg, r));
    ASSERT_TRUE(mem.write_obj(kList, uint32_t{0x60}));
    ASSERT_TRUE(mem.write_obj(kList + 4, uint32_t{0x61}));
    EXPECT_EQ(call(XENMEM_decrease_reservation, kArg, true), 2);
    EXPECT_EQ(reservation_count(XENMEM_current_reservation), static_cast<int64_t>(kPages - 2));
}
