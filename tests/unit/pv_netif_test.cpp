// pv::NetifBackend: a netif front end built with Xen's ring macros over guest RAM, frames granted
// through the grant table; what the guest transmits is captured, what the host sends is checked in
// the guest's pages.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "pv/backends/netif_backend.h"

using namespace popek;
using namespace popek::pv;

#define xen_mb() __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define xen_rmb() __atomic_thread_fence(__ATOMIC_ACQUIRE)
#define xen_wmb() __atomic_thread_fence(__ATOMIC_RELEASE)

namespace {

constexpr uint64_t kTablePfn = 0x10, kTxPfn = 0x11, kRxPfn = 0x12, kDataPfn = 0x20;

netif_tx_request tx(grant_ref_t gref, uint16_t offset, uint16_t size, uint16_t id, uint16_t flags = 0) {
    return netif_tx_request{gref, offset, flags, id, size};
}

struct NetifFixture : ::testing::Test {
    memory::GuestMemory mem = memory::GuestMemory::create(1 << 20).value();
    GrantTable grants{mem, 1};
    netif_tx_front_ring txf{};
    netif_rx_front_ring rxf{};
    std::unique_ptr<NetifBackend> be;
    std::vector<std::vector<uint8_t>> sent;
    NetifBackend::Send capture = [this](std::span<const uint8_t> f) { sent.emplace_back(f.begin(), f.end()); };

    uint8_t* page(uint64_t pfn) { return mem.host_ptr(pfn << 12, 4096); }
    void grant(grant_ref_t ref, uint64_t pfn, bool readonly, DomId to = 0) {
        reinterpret_cast<grant_entry_v1_t*>(page(kTablePfn))[ref] = grant_entry_v1_t{
            static_cast<uint16_t>(GTF_permit_access | (readonly ? GTF_readonly : 0)), to, static_cast<uint32_t>(pfn)};
    }
    void SetUp() override {
        ASSERT_TRUE(grants.place_frame(0, kTablePfn));
        auto* ts = reinterpret_cast<netif_tx_sring*>(page(kTxPfn));
        auto* rs = reinterpret_cast<netif_rx_sring*>(page(kRxPfn));
        SHARED_RING_INIT(ts);
        SHARED_RING_INIT(rs);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wconversion"
        FRONT_RING_INIT(&txf, ts, 4096);
        FRONT_RING_INIT(&rxf, rs, 4096);
#pragma GCC diagnostic pop
        make_backend(false);
    }
    void make_backend(bool sg) {
        be = std::make_unique<NetifBackend>(grants, 0, std::span(page(kTxPfn), 4096), std::span(page(kRxPfn), 4096), sg);
    }

    std::vector<netif_tx_response> transmit(std::initializer_list<netif_tx_request> reqs) {
        for (const auto& r : reqs) *RING_GET_REQUEST(&txf, txf.req_prod_pvt++) = r;
        int notify = 0;
        RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&txf, notify);
        (void)notify;
        be->process_tx(capture);
        std::vector<netif_tx_response> out;
        while (RING_HAS_UNCONSUMED_RESPONSES(&txf)) out.push_back(*RING_GET_RESPONSE(&txf, txf.rsp_cons++));
        return out;
    }
    void post_rx(uint16_t id, grant_ref_t gref) {
        *RING_GET_REQUEST(&rxf, rxf.req_prod_pvt++) = netif_rx_request{id, 0, gref};
        int notify = 0;
        RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&rxf, notify);
        (void)notify;
    }
    std::vector<netif_rx_response> rx_responses() {
        std::vector<netif_rx_response> out;
        while (RING_HAS_UNCONSUMED_RESPONSES(&rxf)) out.push_back(*RING_GET_RESPONSE(&rxf, rxf.rsp_cons++));
        return out;
    }
    static std::vector<uint8_t> frame(size_t n, uint8_t seed) {
        std::vector<uint8_t> f(n);
        for (size_t i = 0; i < n; ++i) f[i] = static_cast<uint8_t>(seed + i * 3);
        return f;
    }
};

}  // namespace

TEST_F(NetifFixture, TransmitGathersFragmentsFromTheirOffsets) {
    grant(3, kDataPfn, true);  // transmit only reads the guest's pages
    grant(4, kDataPfn + 1, true);
    for (int i = 0; i < 4096; ++i) page(kDataPfn)[i] = static_cast<uint8_t>(i), page(kDataPfn + 1)[i] = static_cast<uint8_t>(~i);
    // 100 bytes total: 60 from page A at 4000, 40 from page B at 10.
    auto rsp = transmit({tx(3, 4000, 100, 7, NETTXF_more_data), tx(4, 10, 40, 8)});
    ASSERT_EQ(rsp.size(), 2u);
    EXPECT_EQ(rsp[0].id, 7);
    EXPECT_EQ(rsp[0].status, NETIF_RSP_OKAY);
    EXPECT_EQ(rsp[1].id, 8);
    EXPECT_EQ(rsp[1].status, NETIF_RSP_OKAY);
    ASSERT_EQ(sent.size(), 1u);
    ASSERT_EQ(sent[0].size(), 100u);
    EXPECT_EQ(sent[0][0], static_cast<uint8_t>(4000));
    EXPECT_EQ(sent[0][59], static_cast<uint8_t>(4059));
    EXPECT_EQ(sent[0][60], static_cast<uint8_t>(~10));
    EXPECT_EQ(sent[0][99], static_cast<uint8_t>(~49));
    EXPECT_EQ(be->stats().tx_packets, 1u);
    EXPECT_EQ(grants.active_mappings(), 0u);
}

TEST_F(NetifFixture, AChainSplitOverTwoNotificationsIsSentOnceComplete) {
    grant(3, kDataPfn, true);
    auto rsp = transmit({tx(3, 0, 64, 1, NETTXF_more_data)});
    EXPECT_TRUE(rsp.empty());
    EXPECT_TRUE(sent.empty());
    rsp = transmit({tx(3, 100, 20, 2)});
    ASSERT_EQ(rsp.size(), 2u);
    EXPECT_EQ(rsp[0].status, NETIF_RSP_OKAY);
    ASSERT_EQ(sent.size(), 1u);
    EXPECT_EQ(sent[0].size(), 64u);
}

TEST_F(NetifFixture, BadTransmitRequestsGetErrorsAndSendNothing) {
    grant(3, kDataPfn, true);
    grant(5, kDataPfn + 1, false, 7);  // granted to another domain
    const struct {
        const char* what;
        std::vector<netif_tx_request> reqs;
    } cases[] = {
        {"offset+size past the page", {tx(3, 4000, 200, 1)}},
        {"offset past the page", {tx(3, 5000, 20, 1)}},
        {"size 0", {tx(3, 0, 0, 1)}},
        {"shorter than an Ethernet header", {tx(3, 0, 13, 1)}},
        {"fragments larger than the total", {tx(3, 0, 50, 1, NETTXF_more_data), tx(3, 0, 60, 2)}},
        {"fragments equal to the total", {tx(3, 0, 50, 1, NETTXF_more_data), tx(3, 0, 50, 2)}},
        {"empty fragment", {tx(3, 0, 50, 1, NETTXF_more_data), tx(3, 0, 0, 2)}},
        {"first slot's share past the page", {tx(3, 4090, 60, 1, NETTXF_more_data), tx(3, 0, 10, 2)}},
        {"ungranted ref", {tx(450, 0, 60, 1)}},
        {"ref past the table", {tx(100000, 0, 60, 1)}},
        {"grant for another domain", {tx(5, 0, 60, 1)}},
    };
    for (const auto& c : cases) {
        for (const auto& r : c.reqs) *RING_GET_REQUEST(&txf, txf.req_prod_pvt++) = r;
        int notify = 0;
        RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&txf, notify);
        (void)notify;
        be->process_tx(capture);
        size_t n = 0;
        while (RING_HAS_UNCONSUMED_RESPONSES(&txf)) {
            auto rsp = *RING_GET_RESPONSE(&txf, txf.rsp_cons++);
            EXPECT_EQ(rsp.status, NETIF_RSP_ERROR) << c.what;
            ++n;
        }
        EXPECT_EQ(n, c.reqs.size()) << c.what;
    }
    EXPECT_TRUE(sent.empty());
    EXPECT_EQ(be->stats().tx_errors, std::size(cases));
    EXPECT_EQ(grants.active_mappings(), 0u);
    // The ring still works.
    auto rsp = transmit({tx(3, 0, 60, 9)});
    ASSERT_EQ(rsp.size(), 1u);
    EXPECT_EQ(rsp[0].status, NETIF_RSP_OKAY);
    EXPECT_EQ(sent.size(), 1u);
}

TEST_F(NetifFixture, AnOverlongChainIsRefusedUntilItEnds) {
    grant(3, kDataPfn, true);
    std::vector<netif_tx_request> chain;
    for (uint16_t i = 0; i < 30; ++i) chain.push_back(tx(3, 0, i == 0 ? 1000 : 10, i, NETTXF_more_data));
    for (const auto& r : chain) *RING_GET_REQUEST(&txf, txf.req_prod_pvt++) = r;
    int notify = 0;
    RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&txf, notify);
    (void)notify;
    be->process_tx(capture);
    uint16_t n = 0;
    while (RING_HAS_UNCONSUMED_RESPONSES(&txf)) {
        auto rsp = *RING_GET_RESPONSE(&txf, txf.rsp_cons++);
        EXPECT_EQ(rsp.id, n++);
        EXPECT_EQ(rsp.status, NETIF_RSP_ERROR);
    }
    EXPECT_EQ(n, 30);  // every slot answered although the chain has not ended
    // Its last slot is still refused; the next packet goes through.
    auto rsp = transmit({tx(3, 0, 10, 30), tx(3, 0, 60, 31)});
    ASSERT_EQ(rsp.size(), 2u);
    EXPECT_EQ(rsp[0].status, NETIF_RSP_ERROR);
    EXPECT_EQ(rsp[1].status, NETIF_RSP_OKAY);
    EXPECT_EQ(sent.size(), 1u);
}

TEST_F(NetifFixture, ExtraInfoIsNotOfferedAndItsSlotsAreAnsweredNull) {
    grant(3, kDataPfn, true);
    netif_extra_info extra{};
    extra.type = XEN_NETIF_EXTRA_TYPE_GSO;
    netif_tx_request extra_slot{};
    std::memcpy(&extra_slot, &extra, sizeof(extra));
    auto rsp = transmit({tx(3, 0, 60, 4, NETTXF_extra_info), extra_slot, tx(3, 0, 60, 5)});
    ASSERT_EQ(rsp.size(), 3u);
    EXPECT_EQ(rsp[0].status, NETIF_RSP_ERROR);
    EXPECT_EQ(rsp[1].status, NETIF_RSP_NULL);
    EXPECT_EQ(rsp[2].id, 5);
    EXPECT_EQ(rsp[2].status, NETIF_RSP_OKAY);
    EXPECT_EQ(sent.size(), 1u);
}

TEST_F(NetifFixture, TxProducerPastTheRingShutsIt) {
    grant(3, kDataPfn, true);
    auto* ts = reinterpret_cast<netif_tx_sring*>(page(kTxPfn));
    ts->req_prod = 1000;
    be->process_tx(capture);
    EXPECT_TRUE(be->tx_shut());
    EXPECT_TRUE(sent.empty());
    EXPECT_EQ(ts->rsp_prod, 0u);
}

TEST_F(NetifFixture, ReceiveCopiesIntoPostedBuffers) {
    grant(8, kDataPfn, false);
    post_rx(21, 8);
    auto f = frame(1514, 5);
    EXPECT_TRUE(be->receive(f));
    auto rsp = rx_responses();
    ASSERT_EQ(rsp.size(), 1u);
    EXPECT_EQ(rsp[0].id, 21);
    EXPECT_EQ(rsp[0].status, 1514);
    EXPECT_EQ(rsp[0].offset, 0);
    EXPECT_EQ(rsp[0].flags, 0);
    EXPECT_EQ(std::memcmp(page(kDataPfn), f.data(), f.size()), 0);
    EXPECT_EQ(be->stats().rx_packets, 1u);
    // No buffer posted: dropped and counted, the ring untouched.
    EXPECT_FALSE(be->receive(f));
    EXPECT_EQ(be->stats().rx_dropped_no_buffer, 1u);
    EXPECT_TRUE(rx_responses().empty());
}

TEST_F(NetifFixture, ReceiveRefusedGrantsAndReusedIds) {
    grant(8, kDataPfn, true);  // read-only: the back end must not write into it
    std::memset(page(kDataPfn), 0x77, 4096);
    post_rx(3, 8);
    post_rx(3, 450);           // never granted, and the same id again
    grant(9, kDataPfn + 1, false);
    post_rx(3, 9);
    auto f = frame(100, 1);
    be->receive(f);
    be->receive(f);
    be->receive(f);
    auto rsp = rx_responses();
    ASSERT_EQ(rsp.size(), 3u);
    for (const auto& r : rsp) EXPECT_EQ(r.id, 3);
    EXPECT_EQ(rsp[0].status, NETIF_RSP_ERROR);
    EXPECT_EQ(rsp[1].status, NETIF_RSP_ERROR);
    EXPECT_EQ(rsp[2].status, 100);
    EXPECT_EQ(page(kDataPfn)[0], 0x77);
    EXPECT_EQ(be->stats().rx_errors, 2u);
    EXPECT_EQ(grants.active_mappings(), 0u);
}

TEST_F(NetifFixture, LargeFramesNeedScatterGather) {
    auto big = frame(9000, 2);
    grant(8, kDataPfn, false);
    post_rx(1, 8);
    EXPECT_FALSE(be->receive(big));  // the front end did not say feature-sg
    EXPECT_EQ(be->stats().rx_dropped_invalid, 1u);
    EXPECT_FALSE(be->receive({}));
    EXPECT_EQ(be->stats().rx_dropped_invalid, 2u);
}

TEST_F(NetifFixture, ScatterGatherSpreadsAFrameOverRequests) {
    make_backend(true);
    auto big = frame(9000, 2);
    for (uint16_t i = 0; i < 3; ++i) {
        grant(static_cast<grant_ref_t>(8 + i), kDataPfn + i, false);
        post_rx(i, 8 + i);
    }
    be->receive(big);
    auto rsp = rx_responses();
    ASSERT_EQ(rsp.size(), 3u);
    EXPECT_EQ(rsp[0].status, 4096);
    EXPECT_EQ(rsp[0].flags, NETRXF_more_data);
    EXPECT_EQ(rsp[1].flags, NETRXF_more_data);
    EXPECT_EQ(rsp[2].status, 9000 - 8192);
    EXPECT_EQ(rsp[2].flags, 0);
    EXPECT_EQ(std::memcmp(page(kDataPfn + 2), big.data() + 8192, 9000 - 8192), 0);
}

TEST_F(NetifFixture, RxProducerPastTheRingShutsIt) {
    reinterpret_cast<netif_rx_sring*>(page(kRxPfn))->req_prod = 5000;
    be->check_rx_ring();
    EXPECT_TRUE(be->rx_shut());
    EXPECT_FALSE(be->receive(frame(60, 0)));
}
