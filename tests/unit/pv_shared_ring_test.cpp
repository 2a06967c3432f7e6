// pv::SharedRing against a front end driven by Xen's own io/ring.h macros.
#include <gtest/gtest.h>

#include <vector>

#include "pv/shared_ring.h"

using namespace popek::pv;

// io/ring.h leaves xen_mb/xen_rmb/xen_wmb to the includer (here the test, playing the guest).
#define xen_mb() __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define xen_rmb() __atomic_thread_fence(__ATOMIC_ACQUIRE)
#define xen_wmb() __atomic_thread_fence(__ATOMIC_RELEASE)

namespace {

using BlkRing = SharedRing<blkif_sring>;

struct RingFixture : ::testing::Test {
    alignas(4096) uint8_t page[4096] = {};
    blkif_sring* sring = reinterpret_cast<blkif_sring*>(page);
    blkif_front_ring front{};
    void SetUp() override {
        SHARED_RING_INIT(sring);
        FRONT_RING_INIT(&front, sring, sizeof(page));
    }
    bool push(uint64_t id) {
        blkif_request_t* r = RING_GET_REQUEST(&front, front.req_prod_pvt);
        *r = {};
        r->operation = BLKIF_OP_READ;
        r->id = id;
        front.req_prod_pvt++;
        bool notify = false;
        RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&front, notify);
        return notify;
    }
};

}  // namespace

TEST_F(RingFixture, SizeMatchesXenMacros) {
    BlkRing ring(std::span(page, sizeof(page)));
    EXPECT_EQ(ring.size(), RING_SIZE(&front));
    EXPECT_EQ(ring.size(), 32u);  // blkif: 32 entries per 4 KiB page
    EXPECT_FALSE(ring.shut());
    EXPECT_TRUE(BlkRing(std::span(page, 32)).shut());  // too small
}

TEST_F(RingFixture, RequestsFlowAndResponsesNotifyPerRspEvent) {
    BlkRing ring(std::span(page, sizeof(page)));
    EXPECT_FALSE(ring.next_request());
    EXPECT_TRUE(push(1));  // req_event = 1 initially: the first request notifies
    EXPECT_TRUE(ring.final_check_for_requests());
    auto req = ring.next_request();
    ASSERT_TRUE(req);
    EXPECT_EQ(req->id, 1u);
    EXPECT_FALSE(ring.next_request());
    EXPECT_FALSE(ring.final_check_for_requests());  // sets req_event = cons + 1
    EXPECT_EQ(sring->req_event, 2u);
    EXPECT_TRUE(push(2));
    blkif_response_t rsp{};
    rsp.id = 1;
    rsp.status = BLKIF_RSP_OKAY;
    ASSERT_TRUE(ring.push_response(rsp));
    EXPECT_TRUE(ring.publish_responses());  // rsp_event = 1
    ASSERT_TRUE(RING_HAS_UNCONSUMED_RESPONSES(&front));
    EXPECT_EQ(RING_GET_RESPONSE(&front, front.rsp_cons)->id, 1u);
    front.rsp_cons++;
    // The front end has not re-armed rsp_event: the next response needs no notification.
    ASSERT_TRUE(ring.next_request());
    rsp.id = 2;
    ASSERT_TRUE(ring.push_response(rsp));
    EXPECT_FALSE(ring.publish_responses());
    int more = 0;
    RING_FINAL_CHECK_FOR_RESPONSES(&front, more);
    EXPECT_TRUE(more);
    EXPECT_FALSE(ring.push_response(rsp));  // nothing left to answer
}

TEST_F(RingFixture, WrapsAroundManyTimes) {
    BlkRing ring(std::span(page, sizeof(page)));
    uint64_t next_id = 0, expect_id = 0;
    for (int round = 0; round < 50; ++round) {
        while (!RING_FULL(&front)) push(next_id++);
        while (auto r = ring.next_request()) {
            ASSERT_EQ(r->id, expect_id++);
            blkif_response_t rsp{};
            rsp.id = r->id;
            ASSERT_TRUE(ring.push_response(rsp));
        }
        ring.publish_responses();
        while (RING_HAS_UNCONSUMED_RESPONSES(&front)) front.rsp_cons++;
    }
    EXPECT_EQ(expect_id, next_id);
    EXPECT_FALSE(ring.shut());
}

TEST_F(RingFixture, FrontEndCannotHaveMoreThanRingSizeOutstanding) {
    BlkRing ring(std::span(page, sizeof(page)));
    // The ring is full: 32 requests, none answered. Taking them all is fine.
    for (int i = 0; i < 32; ++i) push(static_cast<uint64_t>(i));
    int taken = 0;
    while (ring.next_request()) ++taken;
    EXPECT_EQ(taken, 32);
    // One more request than the ring can hold (no response yet): the ring is shut.
    push(99);
    EXPECT_FALSE(ring.next_request());
    EXPECT_TRUE(ring.shut());
    blkif_response_t rsp{};
    EXPECT_FALSE(ring.push_response(rsp));
    EXPECT_FALSE(ring.publish_responses());
}

TEST_F(RingFixture, IndexJumpShutsTheRing) {
    BlkRing ring(std::span(page, sizeof(page)));
    sring->req_prod = 0x80000000u;  // hostile jump
    EXPECT_EQ(ring.unconsumed_requests(), 0u);
    EXPECT_TRUE(ring.shut());
    // Even if the guest puts the index back, the ring stays shut.
    sring->req_prod = 1;
    EXPECT_FALSE(ring.next_request());
}

TEST_F(RingFixture, RequestIsCopiedBeforeUse) {
    BlkRing ring(std::span(page, sizeof(page)));
    push(7);
    auto r = ring.next_request();
    ASSERT_TRUE(r);
    RING_GET_REQUEST(&front, 0)->id = 666;  // the guest rewrites the slot afterwards
    EXPECT_EQ(r->id, 7u);
}
