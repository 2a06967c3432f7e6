// pv::GrantTable: v1 entries in guest frames, map/unmap/copy for a backend, hostile grants.
#include <gtest/gtest.h>

#include <cstring>

#include "pv/grant_table.h"

using namespace popek;
using namespace popek::pv;

namespace {

constexpr DomId kGuest = 1;
constexpr DomId kBackend = 0;
constexpr uint64_t kTableGpfn = 0x40;   // frame 0 of the table
constexpr uint64_t kDataGpfn = 0x80;    // a page the guest grants

struct GrantFixture : ::testing::Test {
    memory::GuestMemory mem = memory::GuestMemory::create(1 << 20).value();
    GrantTable gt{mem, kGuest, 4, 8};

    grant_entry_v1_t& entry(grant_ref_t ref) {
        auto* frame = reinterpret_cast<grant_entry_v1_t*>(mem.host_ptr(kTableGpfn << 12, 4096));
        return frame[ref];
    }
    void grant(grant_ref_t ref, uint64_t gpfn, bool readonly, DomId to = kBackend) {
        entry(ref).domid = to;
        entry(ref).frame = static_cast<uint32_t>(gpfn);
        entry(ref).flags = static_cast<uint16_t>(GTF_permit_access | (readonly ? GTF_readonly : 0));
    }
    uint8_t* page(uint64_t gpfn) { return mem.host_ptr(gpfn << 12, 4096); }
    void SetUp() override { ASSERT_TRUE(gt.place_frame(0, kTableGpfn)); }
};

}  // namespace

TEST_F(GrantFixture, MapGivesExactlyTheGrantedPageAndSetsFlags) {
    grant(5, kDataGpfn, false);
    std::memcpy(page(kDataGpfn), "hello", 5);
    auto m = gt.map(kBackend, 5, false);
    ASSERT_TRUE(m);
    EXPECT_EQ(m->page.size(), 4096u);
    EXPECT_EQ(m->page.data(), page(kDataGpfn));
    EXPECT_EQ(std::memcmp(m->page.data(), "hello", 5), 0);
    EXPECT_EQ(entry(5).flags & (GTF_reading | GTF_writing), GTF_reading | GTF_writing);
    auto r = gt.map(kBackend, 5, true);  // a second, read-only pin
    ASSERT_TRUE(r);
    ASSERT_TRUE(gt.unmap(m->handle));
    EXPECT_EQ(entry(5).flags & (GTF_reading | GTF_writing), GTF_reading);  // still read-pinned
    ASSERT_TRUE(gt.unmap(r->handle));
    EXPECT_EQ(entry(5).flags, GTF_permit_access);
    EXPECT_EQ(gt.unmap(r->handle).error(), GNTST_bad_handle);
    EXPECT_EQ(gt.unmap(12345).error(), GNTST_bad_handle);
}

TEST_F(GrantFixture, HostileGrants) {
    // Ref beyond the table (1 frame = 512 entries; table max is 4 frames).
    EXPECT_EQ(gt.map(kBackend, 512, true).error(), GNTST_bad_gntref);
    EXPECT_EQ(gt.map(kBackend, 0xFFFFFFFF, true).error(), GNTST_bad_gntref);
    // Not granted at all.
    EXPECT_EQ(gt.map(kBackend, 7, true).error(), GNTST_general_error);
    // Granted to another domain.
    grant(8, kDataGpfn, false, 3);
    EXPECT_EQ(gt.map(kBackend, 8, true).error(), GNTST_general_error);
    // Read-only grant mapped writable.
    grant(9, kDataGpfn, true);
    EXPECT_EQ(gt.map(kBackend, 9, false).error(), GNTST_general_error);
    EXPECT_TRUE(gt.map(kBackend, 9, true));
    // Transfer-type entry, not access.
    grant(10, kDataGpfn, false);
    entry(10).flags = GTF_accept_transfer;
    EXPECT_EQ(gt.map(kBackend, 10, true).error(), GNTST_general_error);
    // Frame outside guest RAM: refused, and the entry is left unpinned.
    grant(11, 0xFFFFFFF0, false);
    EXPECT_EQ(gt.map(kBackend, 11, false).error(), GNTST_general_error);
    EXPECT_EQ(entry(11).flags, GTF_permit_access);
    // Revoked after mapping: the mapping stays (as in Xen), a new pin is refused.
    grant(12, kDataGpfn, false);
    auto m = gt.map(kBackend, 12, true);
    ASSERT_TRUE(m);
    ASSERT_TRUE(gt.unmap(m->handle));
    entry(12).flags = 0;
    EXPECT_EQ(gt.map(kBackend, 12, true).error(), GNTST_general_error);
}

TEST_F(GrantFixture, MappingHandlesRunOut) {
    grant(1, kDataGpfn, false);
    std::vector<grant_handle_t> handles;
    for (int i = 0; i < 8; ++i) handles.push_back(gt.map(kBackend, 1, true).value().handle);
    EXPECT_EQ(gt.map(kBackend, 1, true).error(), GNTST_no_space);
    ASSERT_TRUE(gt.unmap(handles[3]));
    EXPECT_TRUE(gt.map(kBackend, 1, true));
}

TEST_F(GrantFixture, CopyIsBoundedToThePage) {
    grant(2, kDataGpfn, false);
    const uint8_t in[4] = {1, 2, 3, 4};
    ASSERT_TRUE(gt.copy_to(kBackend, 2, 4092, in));
    EXPECT_EQ(page(kDataGpfn)[4095], 4);
    uint8_t out[4] = {};
    ASSERT_TRUE(gt.copy_from(kBackend, 2, 4092, out));
    EXPECT_EQ(out[3], 4);
    EXPECT_EQ(gt.copy_from(kBackend, 2, 4093, out).error(), GNTST_bad_copy_arg);
    EXPECT_EQ(gt.copy_to(kBackend, 2, 0xFFFF, in).error(), GNTST_bad_copy_arg);
    EXPECT_EQ(entry(2).flags, GTF_permit_access);  // transient pins released
    grant(3, kDataGpfn, true);
    EXPECT_EQ(gt.copy_to(kBackend, 3, 0, in).error(), GNTST_general_error);
    EXPECT_EQ(gt.copy_from(kBackend, 600, 0, out).error(), GNTST_bad_gntref);
}

TEST_F(GrantFixture, GuestIssuedCopy) {
    std::memcpy(page(kDataGpfn), "abcdef", 6);
    gnttab_copy op{};
    op.source.u.gmfn = kDataGpfn;
    op.source.domid = DOMID_SELF;
    op.source.offset = 1;
    op.dest.u.gmfn = kDataGpfn + 1;
    op.dest.domid = DOMID_SELF;
    op.dest.offset = 10;
    op.len = 3;
    gt.copy(op);
    EXPECT_EQ(op.status, GNTST_okay);
    EXPECT_EQ(std::memcmp(page(kDataGpfn + 1) + 10, "bcd", 3), 0);
    op.len = 4095;
    gt.copy(op);
    EXPECT_EQ(op.status, GNTST_bad_copy_arg);
    op.len = 1;
    op.dest.domid = 7;
    gt.copy(op);
    EXPECT_EQ(op.status, GNTST_bad_domain);
    op.dest.domid = DOMID_SELF;
    op.dest.u.gmfn = 1ull << 40;
    gt.copy(op);
    EXPECT_EQ(op.status, GNTST_bad_page);
    // A grant to itself works as a gref side.
    grant(4, kDataGpfn + 2, false, kGuest);
    op.dest.u.ref = 4;
    op.flags = GNTCOPY_dest_gref;
    gt.copy(op);
    EXPECT_EQ(op.status, GNTST_okay);
    EXPECT_EQ(page(kDataGpfn + 2)[10], 'b');
}

TEST_F(GrantFixture, TableGrowthPlacementAndSetup) {
    gnttab_query_size q{DOMID_SELF, 0, 0, 0};
    gt.query_size(q);
    EXPECT_EQ(q.status, GNTST_okay);
    EXPECT_EQ(q.nr_frames, 1u);
    EXPECT_EQ(q.max_nr_frames, 4u);
    q.dom = 9;
    gt.query_size(q);
    EXPECT_EQ(q.status, GNTST_bad_domain);
    auto frames = gt.setup_table(3);
    ASSERT_TRUE(frames);
    ASSERT_EQ(frames->size(), 3u);
    EXPECT_EQ((*frames)[0], kTableGpfn);
    EXPECT_EQ((*frames)[1], ~xen_pfn_t{0});  // not placed yet
    EXPECT_EQ(gt.setup_table(5).error(), GNTST_general_error);
    EXPECT_EQ(gt.nr_frames(), 3u);
    // Entries in frame 1 become usable once the guest places it.
    ASSERT_TRUE(gt.place_frame(1, 0x41));
    auto* f1 = reinterpret_cast<grant_entry_v1_t*>(page(0x41));
    f1[0] = grant_entry_v1_t{GTF_permit_access, kBackend, static_cast<uint32_t>(kDataGpfn)};
    EXPECT_TRUE(gt.map(kBackend, GrantTable::kEntriesPerFrame, true));
    // Moving frame 0 keeps its entries.
    grant(6, kDataGpfn, false);
    ASSERT_TRUE(gt.place_frame(0, 0x50));
    auto* moved = reinterpret_cast<grant_entry_v1_t*>(page(0x50));
    EXPECT_EQ(moved[6].flags, GTF_permit_access);
    EXPECT_EQ(gt.place_frame(4, 0x60).error(), EINVAL);                                  // beyond max
    EXPECT_EQ(gt.place_frame(XENMAPIDX_grant_table_status | 0, 0x60).error(), EINVAL);   // v2 status
    EXPECT_EQ(gt.place_frame(2, 1ull << 40).error(), EINVAL);                            // not RAM
}
