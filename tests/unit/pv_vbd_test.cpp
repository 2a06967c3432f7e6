// pv::VbdDevice: the XenBus handshake and I/O, with the guest side going through the real store
// ring, event channels and grant table in guest RAM.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <cstring>

#include "pv/backends/vbd_device.h"
#include "pv/store_wire.h"
#include "pv_guest_store.h"

using namespace popek;
using namespace popek::pv;
using popek::host::BlockFile;
using namespace std::literals;

#define xen_mb() __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define xen_rmb() __atomic_thread_fence(__ATOMIC_ACQUIRE)
#define xen_wmb() __atomic_thread_fence(__ATOMIC_RELEASE)

namespace {

constexpr uint64_t kSharedPfn = 0x10, kStorePfn = 0x11, kTablePfn = 0x12, kRingPfn = 0x13, kDataPfn = 0x14;

struct VbdFixture : ::testing::Test {
    memory::GuestMemory mem = memory::GuestMemory::create(1 << 20).value();
    PvDomain dom{mem, PvDomainConfig{}, {}};
    std::string disk_path;
    std::unique_ptr<VbdDevice> vbd;
    test::GuestStore store{mem, dom, kStorePfn};

    void SetUp() override {
        char tmpl[] = "/tmp/popek-vbd-XXXXXX";
        int fd = ::mkstemp(tmpl);
        disk_path = tmpl;
        std::vector<uint8_t> data(64 * 512);
        for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i / 512);
        ASSERT_EQ(::write(fd, data.data(), data.size()), static_cast<ssize_t>(data.size()));
        ::close(fd);
        ASSERT_TRUE(dom.event_channels().place_shared_info(kSharedPfn << 12));
        ASSERT_TRUE(dom.grant_table().place_frame(0, kTablePfn));
        ASSERT_TRUE(dom.connect_store(kStorePfn));
        vbd = std::make_unique<VbdDevice>(dom, BlockFile::open(disk_path, false).value());
        ASSERT_TRUE(vbd->attach());
    }
    void TearDown() override {
        vbd.reset();
        ::unlink(disk_path.c_str());
    }

    std::string xs(uint32_t type, std::string_view payload) { return store.xs(type, payload); }
    std::string read(const std::string& path) { return store.read(path); }
    std::string write(const std::string& path, const std::string& v) { return store.write(path, v); }
    grant_entry_v1_t* table() { return reinterpret_cast<grant_entry_v1_t*>(mem.host_ptr(kTablePfn << 12, 4096)); }

    /// The front end's part of the handshake: ring page, grant, event channel, state.
    evtchn_port_t connect_frontend(grant_ref_t ring_ref = 8, DomId backend = 0) {
        auto* sring = reinterpret_cast<blkif_sring*>(mem.host_ptr(kRingPfn << 12, 4096));
        SHARED_RING_INIT(sring);
        table()[8] = grant_entry_v1_t{GTF_permit_access, backend, static_cast<uint32_t>(kRingPfn)};
        evtchn_alloc_unbound a{DOMID_SELF, backend, 0};
        EXPECT_TRUE(dom.event_channels().alloc_unbound(a));
        std::string fe = "device/vbd/51712";
        EXPECT_EQ(write(fe + "/ring-ref", std::to_string(ring_ref)), "OK\0"s);
        EXPECT_EQ(write(fe + "/event-channel", std::to_string(a.port)), "OK\0"s);
        EXPECT_EQ(write(fe + "/protocol", XEN_IO_PROTO_ABI_X86_64), "OK\0"s);
        EXPECT_EQ(write(fe + "/state", "3"), "OK\0"s);
        return a.port;
    }
};

}  // namespace

TEST_F(VbdFixture, HandshakeIoAndTeardown) {
    const std::string be = read("device/vbd/51712/backend");
    EXPECT_EQ(be, "/local/domain/0/backend/vbd/1/51712");
    EXPECT_EQ(read(be + "/state"), "2");  // InitWait
    EXPECT_EQ(read(be + "/feature-flush-cache"), "1");
    EXPECT_EQ(read(be + "/feature-discard"), "1");
    EXPECT_EQ(write(be + "/state", "4"), "EEACCES\0"s);  // the guest cannot drive the back end

    evtchn_port_t port = connect_frontend();
    EXPECT_EQ(read(be + "/state"), "4");
    EXPECT_EQ(read(be + "/sectors"), "64");
    EXPECT_EQ(read(be + "/info"), "0");
    EXPECT_TRUE(vbd->connected());

    // A read through the connected ring.
    auto* sring = reinterpret_cast<blkif_sring*>(mem.host_ptr(kRingPfn << 12, 4096));
    blkif_front_ring front{};
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wconversion"  // Xen's macro stores a size_t ring size in an unsigned int
    FRONT_RING_ATTACH(&front, sring, 0, 4096);
#pragma GCC diagnostic pop
    table()[9] = grant_entry_v1_t{GTF_permit_access, 0, static_cast<uint32_t>(kDataPfn)};
    blkif_request_t* r = RING_GET_REQUEST(&front, front.req_prod_pvt++);
    *r = {};
    r->operation = BLKIF_OP_READ;
    r->id = 42;
    r->sector_number = 5;
    r->nr_segments = 1;
    r->seg[0] = {9, 0, 7};
    int notify = 0;
    RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&front, notify);
    EXPECT_TRUE(notify);
    ASSERT_TRUE(dom.event_channels().send(port));
    ASSERT_TRUE(RING_HAS_UNCONSUMED_RESPONSES(&front));
    EXPECT_EQ(RING_GET_RESPONSE(&front, front.rsp_cons)->status, BLKIF_RSP_OKAY);
    EXPECT_EQ(mem.host_ptr(kDataPfn << 12, 4096)[0], 5);
    EXPECT_EQ(mem.host_ptr(kDataPfn << 12, 4096)[4095], 12);
    EXPECT_TRUE(dom.event_channels().port_pending(port));
    EXPECT_EQ(vbd->stats().bytes_read, 4096u);

    // Teardown: the back end follows, releases the ring grant and its channel end.
    EXPECT_EQ(write("device/vbd/51712/state", "5"), "OK\0"s);
    EXPECT_EQ(read(be + "/state"), "5");
    EXPECT_FALSE(vbd->connected());
    EXPECT_EQ(table()[8].flags, GTF_permit_access);
    evtchn_status st{DOMID_SELF, port, 0, 0, {}};
    ASSERT_TRUE(dom.event_channels().status(st));
    EXPECT_EQ(st.status, static_cast<uint32_t>(EVTCHNSTAT_unbound));
    EXPECT_EQ(write("device/vbd/51712/state", "6"), "OK\0"s);
    EXPECT_EQ(read(be + "/state"), "6");
    EXPECT_EQ(write("device/vbd/51712/state", "1"), "OK\0"s);
    EXPECT_EQ(read(be + "/state"), "2");  // ready again
}

TEST_F(VbdFixture, BadFrontendValuesLeaveAnErrorNotACrash) {
    connect_frontend(/*ring_ref=*/300);  // entry 300 was never granted
    const std::string be = "/local/domain/0/backend/vbd/1/51712";
    EXPECT_EQ(read(be + "/state"), "5");
    EXPECT_NE(read(be + "/error").find("EACCES"), std::string::npos);
    EXPECT_FALSE(vbd->connected());
}

TEST_F(VbdFixture, GarbageInFrontendNodes) {
    const std::string fe = "device/vbd/51712";
    const std::string be = "/local/domain/0/backend/vbd/1/51712";
    EXPECT_EQ(write(fe + "/ring-ref", "12abc"), "OK\0"s);
    EXPECT_EQ(write(fe + "/event-channel", "1"), "OK\0"s);
    EXPECT_EQ(write(fe + "/state", "3"), "OK\0"s);
    EXPECT_EQ(read(be + "/state"), "5");
    EXPECT_EQ(write(fe + "/state", "banana"), "OK\0"s);  // ignored
    EXPECT_EQ(read(be + "/state"), "5");
}

TEST_F(VbdFixture, WrongProtocolIsRefused) {
    EXPECT_EQ(write("device/vbd/51712/protocol", XEN_IO_PROTO_ABI_X86_32), "OK\0"s);
    auto* sring = reinterpret_cast<blkif_sring*>(mem.host_ptr(kRingPfn << 12, 4096));
    SHARED_RING_INIT(sring);
    table()[8] = grant_entry_v1_t{GTF_permit_access, 0, static_cast<uint32_t>(kRingPfn)};
    evtchn_alloc_unbound a{DOMID_SELF, 0, 0};
    ASSERT_TRUE(dom.event_channels().alloc_unbound(a));
    write("device/vbd/51712/ring-ref", "8");
    write("device/vbd/51712/event-channel", std::to_string(a.port));
    write("device/vbd/51712/state", "3");
    EXPECT_EQ(read("/local/domain/0/backend/vbd/1/51712/state"), "5");
    EXPECT_EQ(table()[8].flags, GTF_permit_access);  // never mapped
}

namespace {

/// A driver domain that answers `answers` requests and then is gone.
struct DyingExecutor final : BlkifExecutor {
    int answers;
    bool dead = false;
    explicit DyingExecutor(int n) : answers(n) {}
    std::optional<blkif_response_t> execute(const blkif_request_t& req) override {
        if (answers-- <= 0) {
            dead = true;
            return std::nullopt;
        }
        return blkif_response_t{req.id, req.operation, BLKIF_RSP_OKAY};
    }
    std::optional<std::string> failure() const override {
        return dead ? std::optional<std::string>("the process exited") : std::nullopt;
    }
};

}  // namespace

TEST_F(VbdFixture, DriverDomainPathsAndItsDeathCloseTheDevice) {
    vbd.reset();
    vbd = std::make_unique<VbdDevice>(dom, BlockFile::open(disk_path, false).value(), VbdDevice::kXvda,
                                      std::make_unique<DyingExecutor>(1), DomId{2});
    ASSERT_TRUE(vbd->attach());
    const std::string be = read("device/vbd/51712/backend");
    EXPECT_EQ(be, "/local/domain/2/backend/vbd/1/51712");
    EXPECT_EQ(read("device/vbd/51712/backend-id"), "2");
    EXPECT_EQ(read(be + "/state"), "2");

    // A ring granted to dom0 is not the driver domain's: refused.
    connect_frontend(8, 0);
    EXPECT_EQ(read(be + "/state"), "5");
    EXPECT_EQ(write("device/vbd/51712/state", "6"), "OK\0"s);
    EXPECT_EQ(write("device/vbd/51712/state", "1"), "OK\0"s);
    EXPECT_EQ(read(be + "/state"), "2");

    evtchn_port_t port = connect_frontend(8, 2);
    ASSERT_EQ(read(be + "/state"), "4");
    auto* sring = reinterpret_cast<blkif_sring*>(mem.host_ptr(kRingPfn << 12, 4096));
    blkif_front_ring front{};
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wconversion"
    FRONT_RING_ATTACH(&front, sring, 0, 4096);
#pragma GCC diagnostic pop
    auto submit = [&](uint64_t id) {
        blkif_request_t* r = RING_GET_REQUEST(&front, front.req_prod_pvt++);
        *r = {};
        r->operation = BLKIF_OP_FLUSH_DISKCACHE;
        r->id = id;
        int notify = 0;
        RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&front, notify);
        EXPECT_TRUE(notify);
        EXPECT_TRUE(dom.event_channels().send(port));
    };
    submit(1);
    ASSERT_TRUE(RING_HAS_UNCONSUMED_RESPONSES(&front));
    EXPECT_EQ(RING_GET_RESPONSE(&front, front.rsp_cons++)->id, 1u);

    // The driver domain dies with request 2 outstanding: error node, Closed, no reconnect.
    submit(2);
    EXPECT_FALSE(RING_HAS_UNCONSUMED_RESPONSES(&front));
    EXPECT_EQ(read(be + "/state"), "6");
    EXPECT_NE(read(be + "/error").find("the process exited"), std::string::npos) << read(be + "/error");
    EXPECT_FALSE(vbd->connected());
    EXPECT_EQ(table()[8].flags, GTF_permit_access);  // ring grant released
    EXPECT_EQ(write("device/vbd/51712/state", "1"), "OK\0"s);
    EXPECT_EQ(read(be + "/state"), "6");
    // The store and the rest of the domain keep working.
    EXPECT_EQ(write("data/alive", "yes"), "OK\0"s);
    EXPECT_EQ(read("data/alive"), "yes");
}
