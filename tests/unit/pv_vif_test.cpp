// pv::VifDevice: the XenBus handshake of a vif and its data path, with the guest side going through
// the real store ring, event channels and grant table in guest RAM.
#include <gtest/gtest.h>

#include <cstring>

#include "pv/backends/vif_device.h"
#include "pv_guest_store.h"

using namespace popek;
using namespace popek::pv;
using namespace std::literals;

#define xen_mb() __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define xen_rmb() __atomic_thread_fence(__ATOMIC_ACQUIRE)
#define xen_wmb() __atomic_thread_fence(__ATOMIC_RELEASE)

namespace {

constexpr uint64_t kSharedPfn = 0x10, kStorePfn = 0x11, kTablePfn = 0x12, kTxPfn = 0x13, kRxPfn = 0x14,
                   kDataPfn = 0x15;
const std::string kFe = "device/vif/0";
const std::string kBe = "/local/domain/0/backend/vif/1/0";

struct VifFixture : ::testing::Test {
    memory::GuestMemory mem = memory::GuestMemory::create(1 << 20).value();
    PvDomain dom{mem, PvDomainConfig{}, {}};
    test::GuestStore store{mem, dom, kStorePfn};
    std::vector<std::vector<uint8_t>> sent;
    std::unique_ptr<VifDevice> vif;
    netif_tx_front_ring txf{};
    netif_rx_front_ring rxf{};

    void SetUp() override {
        ASSERT_TRUE(dom.event_channels().place_shared_info(kSharedPfn << 12));
        ASSERT_TRUE(dom.grant_table().place_frame(0, kTablePfn));
        ASSERT_TRUE(dom.connect_store(kStorePfn));
        vif = std::make_unique<VifDevice>(dom, VifDevice::Mac{0, 0x16, 0x3e, 1, 2, 3},
                                          [this](std::span<const uint8_t> f) { sent.emplace_back(f.begin(), f.end()); });
        ASSERT_TRUE(vif->attach());
    }
    grant_entry_v1_t* table() { return reinterpret_cast<grant_entry_v1_t*>(mem.host_ptr(kTablePfn << 12, 4096)); }
    uint8_t* page(uint64_t pfn) { return mem.host_ptr(pfn << 12, 4096); }

    /// The front end's half: rings granted as refs 8 (tx) and 9 (rx), a channel, the nodes.
    evtchn_port_t connect_frontend(bool rx_copy = true, const char* queues = nullptr) {
        auto* ts = reinterpret_cast<netif_tx_sring*>(page(kTxPfn));
        auto* rs = reinterpret_cast<netif_rx_sring*>(page(kRxPfn));
        SHARED_RING_INIT(ts);
        SHARED_RING_INIT(rs);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wconversion"  // Xen's macro stores a size_t ring size in an unsigned int
        FRONT_RING_INIT(&txf, ts, 4096);
        FRONT_RING_INIT(&rxf, rs, 4096);
#pragma GCC diagnostic pop
        table()[8] = grant_entry_v1_t{GTF_permit_access, 0, static_cast<uint32_t>(kTxPfn)};
        table()[9] = grant_entry_v1_t{GTF_permit_access, 0, static_cast<uint32_t>(kRxPfn)};
        evtchn_alloc_unbound a{DOMID_SELF, 0, 0};
        EXPECT_TRUE(dom.event_channels().alloc_unbound(a));
        EXPECT_EQ(store.write(kFe + "/tx-ring-ref", "8"), "OK\0"s);
        EXPECT_EQ(store.write(kFe + "/rx-ring-ref", "9"), "OK\0"s);
        EXPECT_EQ(store.write(kFe + "/event-channel", std::to_string(a.port)), "OK\0"s);
        if (rx_copy) {
            EXPECT_EQ(store.write(kFe + "/request-rx-copy", "1"), "OK\0"s);
        }
        if (queues) {
            EXPECT_EQ(store.write(kFe + "/multi-queue-num-queues", queues), "OK\0"s);
        }
        EXPECT_EQ(store.write(kFe + "/state", "4"), "OK\0"s);
        return a.port;
    }
};

}  // namespace

TEST_F(VifFixture, NodesHandshakeTrafficAndTeardown) {
    EXPECT_EQ(store.read(kFe + "/backend"), kBe);
    EXPECT_EQ(store.read(kFe + "/mac"), "00:16:3e:01:02:03");
    EXPECT_EQ(store.read(kBe + "/mac"), "00:16:3e:01:02:03");
    EXPECT_EQ(store.read(kBe + "/feature-rx-copy"), "1");
    EXPECT_EQ(store.read(kBe + "/feature-no-csum-offload"), "1");
    EXPECT_EQ(store.read(kBe + "/state"), "2");  // InitWait
    EXPECT_EQ(store.write(kBe + "/feature-rx-copy", "0"), "EEACCES\0"s);

    // A frame from the host before any front end: dropped and counted.
    std::vector<uint8_t> frame(60, 0xab);
    vif->deliver(frame);
    EXPECT_EQ(vif->stats().rx_dropped_disconnected, 1u);

    evtchn_port_t port = connect_frontend();
    EXPECT_EQ(store.read(kBe + "/state"), "4");
    EXPECT_TRUE(vif->connected());

    // TX: one 60-byte frame from a granted page.
    table()[10] = grant_entry_v1_t{GTF_permit_access | GTF_readonly, 0, static_cast<uint32_t>(kDataPfn)};
    std::memset(page(kDataPfn), 0x5c, 4096);
    *RING_GET_REQUEST(&txf, txf.req_prod_pvt++) = netif_tx_request{10, 0, 0, 77, 60};
    int notify = 0;
    RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&txf, notify);
    ASSERT_TRUE(dom.event_channels().send(port));
    ASSERT_TRUE(RING_HAS_UNCONSUMED_RESPONSES(&txf));
    EXPECT_EQ(RING_GET_RESPONSE(&txf, txf.rsp_cons)->status, NETIF_RSP_OKAY);
    ASSERT_EQ(sent.size(), 1u);
    EXPECT_EQ(sent[0], std::vector<uint8_t>(60, 0x5c));

    // RX: a posted buffer receives the host's frame; the channel fires.
    table()[11] = grant_entry_v1_t{GTF_permit_access, 0, static_cast<uint32_t>(kDataPfn + 1)};
    *RING_GET_REQUEST(&rxf, rxf.req_prod_pvt++) = netif_rx_request{3, 0, 11};
    RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&rxf, notify);
    (void)notify;
    EXPECT_TRUE(dom.event_channels().unmask(port));
    vif->deliver(frame);
    ASSERT_TRUE(RING_HAS_UNCONSUMED_RESPONSES(&rxf));
    EXPECT_EQ(RING_GET_RESPONSE(&rxf, rxf.rsp_cons)->status, 60);
    EXPECT_EQ(page(kDataPfn + 1)[59], 0xab);
    EXPECT_TRUE(dom.event_channels().port_pending(port));
    EXPECT_EQ(vif->stats().rx_packets, 1u);
    vif->deliver(frame);  // no buffer left
    EXPECT_EQ(vif->stats().rx_dropped_no_buffer, 1u);

    // Teardown: both ring grants released.
    EXPECT_EQ(store.write(kFe + "/state", "6"), "OK\0"s);
    EXPECT_EQ(store.read(kBe + "/state"), "6");
    EXPECT_FALSE(vif->connected());
    EXPECT_EQ(table()[8].flags, GTF_permit_access);
    EXPECT_EQ(table()[9].flags, GTF_permit_access);
}

TEST_F(VifFixture, WithoutRequestRxCopyTheBackEndRefuses) {
    connect_frontend(false);
    EXPECT_EQ(store.read(kBe + "/state"), "5");  // Closing
    EXPECT_NE(store.read(kBe + "/error").find("EINVAL"), std::string::npos);
    EXPECT_FALSE(vif->connected());
    EXPECT_EQ(table()[8].flags, GTF_permit_access);  // nothing left mapped
}

TEST_F(VifFixture, SeveralQueuesAreRefused) {
    connect_frontend(true, "4");
    EXPECT_EQ(store.read(kBe + "/state"), "5");
    EXPECT_FALSE(vif->connected());
}

TEST_F(VifFixture, UngrantedRxRingIsRefused) {
    connect_frontend();
    ASSERT_TRUE(vif->connected());
    EXPECT_EQ(store.write(kFe + "/state", "6"), "OK\0"s);
    EXPECT_EQ(store.write(kFe + "/state", "1"), "OK\0"s);
    EXPECT_EQ(store.read(kBe + "/state"), "2");
    table()[9].flags = 0;  // rx ring no longer granted
    EXPECT_EQ(store.write(kFe + "/state", "4"), "OK\0"s);
    EXPECT_EQ(store.read(kBe + "/state"), "5");
    EXPECT_NE(store.read(kBe + "/error").find("EACCES"), std::string::npos);
    EXPECT_EQ(table()[8].flags, GTF_permit_access);  // the tx ring mapping was undone
}

TEST_F(VifFixture, CorruptTxRingClosesTheDevice) {
    evtchn_port_t port = connect_frontend();
    reinterpret_cast<netif_tx_sring*>(page(kTxPfn))->req_prod = 1000;
    ASSERT_TRUE(dom.event_channels().send(port));
    EXPECT_EQ(store.read(kBe + "/state"), "5");
    EXPECT_EQ(store.read(kBe + "/error"), "netif tx ring indices out of range: ring shut");
    EXPECT_FALSE(vif->connected());
    EXPECT_TRUE(sent.empty());
}
