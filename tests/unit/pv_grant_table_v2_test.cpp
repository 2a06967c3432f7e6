// pv::GrantTable version 2 (src/pv/grant_table.cpp, grant_table_version.cpp): the same map/copy
// path a back end uses, reading v1 and v2 entries; status frames; sub-page and transitive
// grants; GNTTABOP_set_version's refusals (EBUSY with a grant in use, ERANGE, EINVAL).
#include <gtest/gtest.h>

#include <cstring>

#include "pv/grant_table.h"
#include "snapshot/snap_codec.h"

using namespace popek;
using namespace popek::pv;

namespace {

constexpr DomId kGuest = 1;
constexpr DomId kBackend = 0;
constexpr uint64_t kTableGpfn = 0x40;
constexpr uint64_t kStatusGpfn = 0x48;
constexpr uint64_t kDataGpfn = 0x80;

struct GrantVersions : ::testing::TestWithParam<uint32_t> {
    memory::GuestMemory mem = memory::GuestMemory::create(1 << 20).value();
    GrantTable gt{mem, kGuest, 4, 8};
    uint8_t* page(uint64_t gpfn) { return mem.host_ptr(gpfn << 12, 4096); }
    grant_entry_v1_t& v1(grant_ref_t ref) { return reinterpret_cast<grant_entry_v1_t*>(page(kTableGpfn))[ref]; }
    grant_entry_v2_t& v2(grant_ref_t ref) { return reinterpret_cast<grant_entry_v2_t*>(page(kTableGpfn))[ref]; }
    grant_status_t& status(grant_ref_t ref) { return reinterpret_cast<grant_status_t*>(page(kStatusGpfn))[ref]; }

    void SetUp() override {
        ASSERT_TRUE(gt.place_frame(0, kTableGpfn));
        if (GetParam() == 2) {
            ASSERT_EQ(gt.set_version(2).error, 0);
            ASSERT_TRUE(gt.place_frame(0 | XENMAPIDX_grant_table_status, kStatusGpfn));
        }
    }
    /// The guest grants `gpfn` to `to` in the table's current layout.
    void grant(grant_ref_t ref, uint64_t gpfn, bool readonly, DomId to = kBackend) {
        const auto flags = static_cast<uint16_t>(GTF_permit_access | (readonly ? GTF_readonly : 0));
        if (GetParam() == 1) {
            v1(ref) = grant_entry_v1_t{flags, to, static_cast<uint32_t>(gpfn)};
        } else {
            v2(ref).full_page.frame = gpfn;
            v2(ref).hdr.domid = to;
            v2(ref).hdr.flags = flags;
        }
    }
    /// GTF_reading / GTF_writing as the guest sees them.
    uint16_t pin_bits(grant_ref_t ref) {
        const uint16_t bits = GetParam() == 1 ? v1(ref).flags : status(ref);
        return bits & (GTF_reading | GTF_writing);
    }
};

TEST_P(GrantVersions, MapCopyAndPinBitsThroughTheSamePath) {
    EXPECT_EQ(gt.version(), GetParam());
    grant(9, kDataGpfn, false);
    std::memcpy(page(kDataGpfn) + 100, "granted", 7);
    auto m = gt.map(kBackend, 9, false);
    ASSERT_TRUE(m) << m.error();
    EXPECT_EQ(m->page.data(), page(kDataGpfn));
    EXPECT_EQ(pin_bits(9), GTF_reading | GTF_writing);
    if (GetParam() == 2) {
        EXPECT_EQ(v2(9).hdr.flags, GTF_permit_access) << "v2 keeps pin bits out of the entry";
    }
    ASSERT_TRUE(gt.unmap(m->handle));
    EXPECT_EQ(pin_bits(9), 0);
    uint8_t buf[7];
    ASSERT_TRUE(gt.copy_from(kBackend, 9, 100, buf));
    EXPECT_EQ(std::memcmp(buf, "granted", 7), 0);
    ASSERT_TRUE(gt.copy_to(kBackend, 9, 200, std::span<const uint8_t>(buf, 7)));
    EXPECT_EQ(std::memcmp(page(kDataGpfn) + 200, "granted", 7), 0);
    EXPECT_EQ(pin_bits(9), 0);
    // Read-only grants, other grantees and refs past the table fail the same way in both.
    grant(10, kDataGpfn, true);
    EXPECT_EQ(gt.map(kBackend, 10, false).error(), GNTST_general_error);
    EXPECT_TRUE(gt.map(kBackend, 10, true));
    grant(11, kDataGpfn, false, 7);
    EXPECT_EQ(gt.copy_from(kBackend, 11, 0, buf).error(), GNTST_general_error);
    const grant_ref_t past = GetParam() == 1 ? GrantTable::kEntriesPerFrame : GrantTable::kEntriesPerFrameV2;
    EXPECT_EQ(gt.map(kBackend, past, true).error(), GNTST_bad_gntref);
}

INSTANTIATE_TEST_SUITE_P(V1AndV2, GrantVersions, ::testing::Values(1u, 2u),
                         [](const auto& p) { return "v" + std::to_string(p.param); });

TEST_P(GrantVersions, ASnapshotKeepsTheVersionStatusFramesAndPins) {
    // docs/snapshot.md "GNTT": a table restored from a snapshot reads the same layout, keeps the
    // status frames where the guest placed them, and a mapping made before it is still pinned.
    grant(9, kDataGpfn, false);
    auto m = gt.map(kBackend, 9, false);
    ASSERT_TRUE(m) << m.error();
    snapshot::Writer w;
    gt.save(w);
    GrantTable restored{mem, kGuest, 4, 8};
    snapshot::Reader r(w.buffer());
    restored.load(r);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(restored.version(), GetParam());
    EXPECT_EQ(restored.nr_status_frames(), GetParam() == 2 ? 1u : 0u);
    EXPECT_EQ(restored.active_mappings(), 1u);
    EXPECT_TRUE(restored.unmap(m->handle)) << "the handle saved with the table";
    EXPECT_EQ(pin_bits(9), 0) << "unpinned in the version's own place";
    grant(10, kDataGpfn, true);
    EXPECT_TRUE(restored.map(kBackend, 10, true)) << "new grants are read in the saved layout";
}

struct GrantV2 : ::testing::Test {
    memory::GuestMemory mem = memory::GuestMemory::create(1 << 20).value();
    GrantTable gt{mem, kGuest, 4, 8};
    uint8_t* page(uint64_t gpfn) { return mem.host_ptr(gpfn << 12, 4096); }
    grant_entry_v1_t& v1(grant_ref_t ref) { return reinterpret_cast<grant_entry_v1_t*>(page(kTableGpfn))[ref]; }
    grant_entry_v2_t& v2(grant_ref_t ref) { return reinterpret_cast<grant_entry_v2_t*>(page(kTableGpfn))[ref]; }
    void SetUp() override { ASSERT_TRUE(gt.place_frame(0, kTableGpfn)); }
};

TEST_F(GrantV2, SubPageGrantsCopyWithinTheirBytesAndNeverMap) {
    ASSERT_EQ(gt.set_version(2).error, 0);
    v2(12).sub_page.frame = kDataGpfn;
    v2(12).sub_page.page_off = 1024;
    v2(12).sub_page.length = 16;
    v2(12).hdr.domid = kBackend;
    v2(12).hdr.flags = GTF_permit_access | GTF_sub_page;
    uint8_t buf[16] = {};
    EXPECT_TRUE(gt.copy_from(kBackend, 12, 1024, buf));
    EXPECT_TRUE(gt.copy_from(kBackend, 12, 1032, std::span<uint8_t>(buf, 8)));
    EXPECT_EQ(gt.copy_from(kBackend, 12, 1020, buf).error(), GNTST_general_error) << "before the sub-page";
    EXPECT_EQ(gt.copy_to(kBackend, 12, 1030, std::span<const uint8_t>(buf, 16)).error(), GNTST_general_error)
        << "past its end";
    EXPECT_EQ(gt.map(kBackend, 12, true).error(), GNTST_general_error) << "sub-page grants are not mapped";
    v2(13) = v2(12);
    v2(13).sub_page.length = 4000;   // 1024 + 4000 > 4096
    EXPECT_EQ(gt.copy_from(kBackend, 13, 1024, buf).error(), GNTST_general_error);
    // Transitive grants are not offered; a 64-bit frame past RAM is not mapped.
    v2(14).transitive.trans_domid = 3;
    v2(14).hdr.domid = kBackend;
    v2(14).hdr.flags = GTF_transitive;
    EXPECT_EQ(gt.copy_from(kBackend, 14, 0, buf).error(), GNTST_general_error);
    v2(15).full_page.frame = ~uint64_t{0};
    v2(15).hdr.domid = kBackend;
    v2(15).hdr.flags = GTF_permit_access;
    EXPECT_EQ(gt.map(kBackend, 15, true).error(), GNTST_general_error);
    EXPECT_EQ(gt.active_mappings(), 0u);
}

TEST_F(GrantV2, SwitchingVersionsAsXenDoes) {
    EXPECT_EQ(gt.set_version(3).error, EINVAL);
    EXPECT_EQ(gt.set_version(3).version, 1u);
    EXPECT_EQ(gt.nr_status_frames(), 0u);
    // A reserved entry (the toolstack's, refs 0-7) survives, converted; the rest is cleared.
    v1(1) = grant_entry_v1_t{GTF_permit_access, kBackend, static_cast<uint32_t>(kDataGpfn)};
    v1(20) = grant_entry_v1_t{GTF_permit_access, kBackend, static_cast<uint32_t>(kDataGpfn)};
    // A grant in use other than a reserved one: EBUSY, nothing changes.
    auto busy = gt.map(kBackend, 20, true);
    ASSERT_TRUE(busy);
    EXPECT_EQ(gt.set_version(2).error, EBUSY);
    EXPECT_EQ(gt.version(), 1u);
    ASSERT_TRUE(gt.unmap(busy->handle));
    auto reserved = gt.map(kBackend, 1, true);   // a reserved grant may stay mapped
    ASSERT_TRUE(reserved);
    const auto r = gt.set_version(2);
    EXPECT_EQ(r.error, 0);
    EXPECT_EQ(r.version, 2u);
    EXPECT_EQ(gt.nr_status_frames(), 1u) << "one frame of 256 entries needs one status frame";
    EXPECT_EQ(v2(1).full_page.frame, kDataGpfn);
    EXPECT_EQ(v2(1).hdr.flags, GTF_permit_access) << "its pin bits moved to the status frame";
    EXPECT_EQ(v2(10).hdr.flags, 0) << "ref 20 of v1 is in ref 10's bytes: cleared";
    auto frames = gt.status_frames(1);
    ASSERT_TRUE(frames);
    EXPECT_EQ((*frames)[0], ~uint64_t{0}) << "not placed yet";
    ASSERT_TRUE(gt.place_frame(0 | XENMAPIDX_grant_table_status, kStatusGpfn));
    EXPECT_EQ(reinterpret_cast<grant_status_t*>(page(kStatusGpfn))[1], GTF_reading);
    ASSERT_TRUE(gt.unmap(reserved->handle));
    EXPECT_EQ(reinterpret_cast<grant_status_t*>(page(kStatusGpfn))[1], 0);
    EXPECT_EQ(gt.status_frames(2).error(), GNTST_general_error);
    EXPECT_FALSE(gt.place_frame(1 | XENMAPIDX_grant_table_status, 0x49)) << "only one status frame";
    // Back to v1: a reserved v2 entry v1 cannot hold is ERANGE.
    v2(2).full_page.frame = uint64_t{1} << 32;
    v2(2).hdr.domid = kBackend;
    v2(2).hdr.flags = GTF_permit_access;
    EXPECT_EQ(gt.set_version(1).error, ERANGE);
    EXPECT_EQ(gt.version(), 2u);
    v2(2).full_page.frame = kDataGpfn;
    EXPECT_EQ(gt.set_version(1).error, 0);
    EXPECT_EQ(v1(2).frame, kDataGpfn);
    EXPECT_EQ(v1(2).flags, GTF_permit_access);
    EXPECT_EQ(gt.nr_status_frames(), 0u);
    EXPECT_FALSE(gt.place_frame(0 | XENMAPIDX_grant_table_status, kStatusGpfn)) << "v1 has none";
}

}  // namespace
