// pv::BlkifHandler and pv::BlkifBackend: a front end built with Xen's ring macros over guest RAM,
// data pages granted through the grant table.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "pv/backends/blkif_backend.h"

using namespace popek;
using namespace popek::pv;
using popek::host::BlockFile;

#define xen_mb() __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define xen_rmb() __atomic_thread_fence(__ATOMIC_ACQUIRE)
#define xen_wmb() __atomic_thread_fence(__ATOMIC_RELEASE)

namespace {

constexpr DomId kGuest = 1;
constexpr uint64_t kTablePfn = 0x10, kRingPfn = 0x11, kDataPfn = 0x20;
constexpr uint64_t kDiskSectors = 64;

/// A temporary disk file filled with a pattern: byte i = i * 7 mod 251.
struct TempDisk {
    std::string path;
    explicit TempDisk(uint64_t bytes) {
        char tmpl[] = "/tmp/popek-blkif-XXXXXX";
        int fd = ::mkstemp(tmpl);
        path = tmpl;
        std::vector<uint8_t> data(bytes);
        for (size_t i = 0; i < bytes; ++i) data[i] = static_cast<uint8_t>(i * 7 % 251);
        EXPECT_EQ(::write(fd, data.data(), bytes), static_cast<ssize_t>(bytes));
        ::close(fd);
    }
    ~TempDisk() { ::unlink(path.c_str()); }
};

uint8_t pattern(uint64_t disk_offset) { return static_cast<uint8_t>(disk_offset * 7 % 251); }

struct BlkifFixture : ::testing::Test {
    memory::GuestMemory mem = memory::GuestMemory::create(1 << 20).value();
    GrantTable grants{mem, kGuest};
    TempDisk file{kDiskSectors * 512};
    BlockFile disk = BlockFile::open(file.path, false).value();
    blkif_front_ring front{};
    LocalGrantAccess access{grants, 0};
    std::unique_ptr<BlkifHandler> handler;
    std::unique_ptr<BlkifBackend> be;

    grant_entry_v1_t* table() { return reinterpret_cast<grant_entry_v1_t*>(mem.host_ptr(kTablePfn << 12, 4096)); }
    uint8_t* page(uint64_t pfn) { return mem.host_ptr(pfn << 12, 4096); }
    void grant(grant_ref_t ref, uint64_t pfn, bool readonly) {
        table()[ref] = grant_entry_v1_t{static_cast<uint16_t>(GTF_permit_access | (readonly ? GTF_readonly : 0)),
                                        0, static_cast<uint32_t>(pfn)};
    }
    void SetUp() override {
        ASSERT_TRUE(grants.place_frame(0, kTablePfn));
        auto* sring = reinterpret_cast<blkif_sring*>(page(kRingPfn));
        SHARED_RING_INIT(sring);
        // Xen's macro computes the ring size in size_t and stores it in an unsigned int.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wconversion"
        FRONT_RING_INIT(&front, sring, 4096);
#pragma GCC diagnostic pop
        attach(disk);
    }
    void attach(BlockFile& d) {
        handler = std::make_unique<BlkifHandler>(access, d);
        be = std::make_unique<BlkifBackend>(*handler, std::span(page(kRingPfn), 4096));
    }
    blkif_request_t rw(uint8_t op, uint64_t sector, std::initializer_list<blkif_request_segment> segs, uint64_t id = 1) {
        blkif_request_t r{};
        r.operation = op;
        r.id = id;
        r.sector_number = sector;
        r.nr_segments = static_cast<uint8_t>(segs.size());
        std::copy(segs.begin(), segs.end(), r.seg);
        return r;
    }
    /// Pushes requests the Xen way and returns the responses.
    std::vector<blkif_response_t> submit(std::initializer_list<blkif_request_t> reqs) {
        for (const auto& r : reqs) *RING_GET_REQUEST(&front, front.req_prod_pvt++) = r;
        int notify = 0;
        RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&front, notify);
        (void)notify;  // the test calls process() itself
        be->process();
        std::vector<blkif_response_t> out;
        while (RING_HAS_UNCONSUMED_RESPONSES(&front)) out.push_back(*RING_GET_RESPONSE(&front, front.rsp_cons++));
        return out;
    }
};

}  // namespace

TEST_F(BlkifFixture, ReadScattersSectorsIntoGrantedPages) {
    grant(3, kDataPfn, false);
    grant(4, kDataPfn + 1, false);
    // 2 sectors into page A at sector offset 1, 3 sectors into page B at offset 5.
    auto rsp = submit({rw(BLKIF_OP_READ, 10, {{3, 1, 2}, {4, 5, 7}}, 77)});
    ASSERT_EQ(rsp.size(), 1u);
    EXPECT_EQ(rsp[0].id, 77u);
    EXPECT_EQ(rsp[0].status, BLKIF_RSP_OKAY);
    EXPECT_EQ(page(kDataPfn)[512], pattern(10 * 512));
    EXPECT_EQ(page(kDataPfn)[3 * 512 - 1], pattern(12 * 512 - 1));
    EXPECT_EQ(page(kDataPfn)[0], 0);  // outside the segment: untouched
    EXPECT_EQ(page(kDataPfn + 1)[5 * 512], pattern(12 * 512));
    EXPECT_EQ(handler->stats().bytes_read, 5u * 512);
}

TEST_F(BlkifFixture, WriteFlushAndReadBack) {
    grant(5, kDataPfn, true);  // a write only needs read access to the guest page
    std::memset(page(kDataPfn), 0xAB, 4096);
    auto rsp = submit({rw(BLKIF_OP_WRITE, 60, {{5, 0, 3}}), rw(BLKIF_OP_FLUSH_DISKCACHE, 0, {}, 2)});
    ASSERT_EQ(rsp.size(), 2u);
    EXPECT_EQ(rsp[0].status, BLKIF_RSP_OKAY);
    EXPECT_EQ(rsp[1].status, BLKIF_RSP_OKAY);
    std::vector<uint8_t> back(4 * 512);
    ASSERT_TRUE(disk.read(60 * 512, back));
    EXPECT_EQ(back.front(), 0xAB);
    EXPECT_EQ(back.back(), 0xAB);
    EXPECT_EQ(table()[5].flags, GTF_permit_access | GTF_readonly);  // pins released
}

TEST_F(BlkifFixture, HostileRequestsGetErrorsAndTouchNothing) {
    grant(6, kDataPfn, false);
    grant(7, kDataPfn + 1, true);
    std::memset(page(kDataPfn), 0x11, 4096);
    struct Case { blkif_request_t req; int16_t status; };
    blkif_request_t too_many = rw(BLKIF_OP_READ, 0, {{6, 0, 0}});
    too_many.nr_segments = BLKIF_MAX_SEGMENTS_PER_REQUEST + 1;
    blkif_request_t indirect = rw(BLKIF_OP_INDIRECT, 0, {});
    const Case cases[] = {
        {rw(BLKIF_OP_READ, 0, {}), BLKIF_RSP_ERROR},                         // no segments
        {too_many, BLKIF_RSP_ERROR},
        {rw(BLKIF_OP_READ, 0, {{6, 3, 2}}), BLKIF_RSP_ERROR},                // first > last
        {rw(BLKIF_OP_READ, 0, {{6, 0, 8}}), BLKIF_RSP_ERROR},                // past the page
        {rw(BLKIF_OP_READ, kDiskSectors - 1, {{6, 0, 1}}), BLKIF_RSP_ERROR}, // past the disk
        {rw(BLKIF_OP_READ, ~0ull, {{6, 0, 0}}), BLKIF_RSP_ERROR},            // overflow
        {rw(BLKIF_OP_READ, 0, {{999, 0, 0}}), BLKIF_RSP_ERROR},              // ref out of range
        {rw(BLKIF_OP_READ, 0, {{8, 0, 0}}), BLKIF_RSP_ERROR},                // not granted
        {rw(BLKIF_OP_READ, 0, {{7, 0, 0}}), BLKIF_RSP_ERROR},                // read into a r/o grant
        {rw(BLKIF_OP_FLUSH_DISKCACHE, 0, {{6, 0, 0}}), BLKIF_RSP_ERROR},     // flush with data
        {indirect, BLKIF_RSP_EOPNOTSUPP},
        {rw(200, 0, {}), BLKIF_RSP_EOPNOTSUPP},
    };
    for (const Case& c : cases) {
        auto rsp = submit({c.req});
        ASSERT_EQ(rsp.size(), 1u);
        EXPECT_EQ(rsp[0].status, c.status) << int(c.req.operation) << " sector " << c.req.sector_number;
    }
    EXPECT_EQ(page(kDataPfn)[0], 0x11);  // nothing was read into the page
    // A write whose second segment is not granted writes nothing at all.
    std::vector<uint8_t> before(512);
    ASSERT_TRUE(disk.read(0, before));
    auto rsp = submit({rw(BLKIF_OP_WRITE, 0, {{6, 0, 0}, {9, 0, 0}})});
    EXPECT_EQ(rsp[0].status, BLKIF_RSP_ERROR);
    std::vector<uint8_t> after(512);
    ASSERT_TRUE(disk.read(0, after));
    EXPECT_EQ(before, after);
}

TEST_F(BlkifFixture, ReadOnlyDiskRefusesWritesAndDiscards) {
    // The fixture's read-write BlockFile holds the image's exclusive lock: a read-only open of
    // the same image beside it is refused (lock_image), so this one is adopted unlocked.
    BlockFile ro = BlockFile::adopt(UniqueFd(::open(file.path.c_str(), O_RDONLY | O_CLOEXEC)), true, file.path).value();
    attach(ro);
    grant(6, kDataPfn, false);
    auto rsp = submit({rw(BLKIF_OP_WRITE, 0, {{6, 0, 0}}), rw(BLKIF_OP_READ, 0, {{6, 0, 0}}, 2)});
    EXPECT_EQ(rsp[0].status, BLKIF_RSP_ERROR);
    EXPECT_EQ(rsp[1].status, BLKIF_RSP_OKAY);
    blkif_request_discard_t d{BLKIF_OP_DISCARD, 0, 0, 3, 0, 8};
    blkif_request_t as_req{};
    std::memcpy(&as_req, &d, sizeof(d));
    EXPECT_EQ(submit({as_req})[0].status, BLKIF_RSP_EOPNOTSUPP);
}

TEST_F(BlkifFixture, DiscardZeroesAndIsBounded) {
    blkif_request_discard_t d{BLKIF_OP_DISCARD, 0, 0, 3, 8, 8};
    blkif_request_t as_req{};
    std::memcpy(&as_req, &d, sizeof(d));
    auto rsp = submit({as_req});
    ASSERT_EQ(rsp[0].status, BLKIF_RSP_OKAY);
    std::vector<uint8_t> z(8 * 512);
    ASSERT_TRUE(disk.read(8 * 512, z));
    EXPECT_EQ(std::count(z.begin(), z.end(), 0), static_cast<long>(z.size()));
    d.sector_number = kDiskSectors - 2;
    d.nr_sectors = 3;
    std::memcpy(&as_req, &d, sizeof(d));
    EXPECT_EQ(submit({as_req})[0].status, BLKIF_RSP_ERROR);
}

TEST_F(BlkifFixture, CorruptRingIsShut) {
    reinterpret_cast<blkif_sring*>(page(kRingPfn))->req_prod = 1000;
    auto out = be->process();
    EXPECT_FALSE(out.notify);
    EXPECT_TRUE(be->shut());
    EXPECT_EQ(handler->stats().requests, 0u);
}
