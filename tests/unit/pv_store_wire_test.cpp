// pv::StoreWire (framing), pv::StoreRing (the shared page) and pv::StoreConnection (requests → Store).
#include <gtest/gtest.h>

#include <cstring>

#include "pv/store/store_layout.h"
#include "pv/store_connection.h"

using namespace popek::pv;
using namespace std::literals;

namespace {

std::string request(uint32_t type, std::string_view payload, uint32_t req_id = 7, uint32_t tx = 0) {
    return StoreWire::frame(type, req_id, tx, payload);
}

std::string z(std::string_view s) { return std::string(s) + '\0'; }

/// The guest side of a store ring page in a plain buffer.
struct GuestRing {
    alignas(4096) uint8_t page[4096] = {};
    xenstore_domain_interface* in = reinterpret_cast<xenstore_domain_interface*>(page);

    size_t send(std::string_view bytes) {
        size_t n = 0;
        while (n < bytes.size() && in->req_prod - in->req_cons < XENSTORE_RING_SIZE) {
            in->req[MASK_XENSTORE_IDX(in->req_prod)] = bytes[n++];
            in->req_prod++;
        }
        return n;
    }
    std::string receive() {
        std::string out;
        while (in->rsp_cons != in->rsp_prod) out.push_back(in->rsp[MASK_XENSTORE_IDX(in->rsp_cons++)]);
        return out;
    }
};

/// Splits a response stream into messages.
std::vector<XsMessage> parse_all(std::string_view bytes) {
    StoreWire w;
    std::vector<XsMessage> out;
    size_t used = 0;
    while (used < bytes.size()) {
        used += w.feed(std::span(reinterpret_cast<const uint8_t*>(bytes.data()) + used, bytes.size() - used));
        if (auto m = w.next()) out.push_back(std::move(*m));
    }
    return out;
}

struct WireFixture : ::testing::Test {
    Store store;
    ConnId dom0 = store.connect(0, {});
    void SetUp() override { ASSERT_TRUE(create_domain_layout(store, dom0, DomainLayout{1, "g", 1024, 1})); }
    std::vector<XsMessage> run(StoreConnection& c, std::string_view bytes) {
        EXPECT_EQ(c.feed(bytes), bytes.size());
        auto msgs = parse_all(c.pending_output());
        c.consume_output(c.pending_output().size());
        return msgs;
    }
};

}  // namespace

TEST(StoreWire, ParsesMessagesDeliveredByteByByte) {
    std::string bytes = request(XS_READ, z("name"), 42, 3) + request(XS_RM, z("x"), 43);
    StoreWire w;
    std::vector<XsMessage> got;
    for (char c : bytes) {
        auto b = static_cast<uint8_t>(c);
        ASSERT_EQ(w.feed(std::span(&b, 1)), 1u);
        if (auto m = w.next()) got.push_back(*m);
    }
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(got[0].type, XS_READ);
    EXPECT_EQ(got[0].req_id, 42u);
    EXPECT_EQ(got[0].tx_id, 3u);
    EXPECT_EQ(got[0].payload, z("name"));
    EXPECT_EQ(got[1].type, XS_RM);
    EXPECT_EQ(w.buffered(), 0u);
}

TEST(StoreWire, OversizedPayloadIsSkippedAndFlagged) {
    xsd_sockmsg h{XS_WRITE, 9, 0, XENSTORE_PAYLOAD_MAX + 1};
    std::string bytes(reinterpret_cast<const char*>(&h), sizeof(h));
    bytes += std::string(XENSTORE_PAYLOAD_MAX + 1, 'A');
    bytes += request(XS_READ, z("a"));
    auto msgs = parse_all(bytes);
    ASSERT_EQ(msgs.size(), 2u);
    EXPECT_TRUE(msgs[0].oversized);
    EXPECT_TRUE(msgs[0].payload.empty());
    EXPECT_EQ(msgs[1].type, XS_READ);  // still in step
}

TEST(StoreWire, StringSplittingDemandsTerminators) {
    EXPECT_FALSE(StoreWire::strings("abc", 1));
    EXPECT_FALSE(StoreWire::strings("", 1));
    EXPECT_FALSE(StoreWire::strings(std::string_view("a\0b\0", 4), 1));
    EXPECT_EQ((*StoreWire::strings(std::string_view("a\0b\0", 4), 2))[1], "b");
    EXPECT_EQ(StoreWire::error_name(EAGAIN), "EAGAIN");
    EXPECT_EQ(StoreWire::error_name(12345), "EINVAL");
}

TEST_F(WireFixture, RequestsMapToStoreOperations) {
    StoreConnection c(store, 1);
    auto r = run(c, request(XS_WRITE, "data/k\0value"s, 1));
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].type, XS_WRITE);
    EXPECT_EQ(r[0].req_id, 1u);
    EXPECT_EQ(r[0].payload, "OK\0"s);
    r = run(c, request(XS_READ, z("data/k"), 2));
    EXPECT_EQ(r[0].payload, "value");
    r = run(c, request(XS_MKDIR, z("data/d"), 3) + request(XS_DIRECTORY, z("data"), 4));
    ASSERT_EQ(r.size(), 2u);
    EXPECT_EQ(r[1].payload, "d\0k\0"s);
    r = run(c, request(XS_GET_PERMS, z("data/k")));
    EXPECT_EQ(r[0].payload, "n1\0"s);
    r = run(c, request(XS_SET_PERMS, "data/k\0n1\0r2\0"s));
    EXPECT_EQ(r[0].payload, "OK\0"s);
    r = run(c, request(XS_GET_DOMAIN_PATH, z("5")));
    EXPECT_EQ(r[0].payload, z("/local/domain/5"));
    r = run(c, request(XS_RM, z("data/k")) + request(XS_READ, z("data/k"), 9));
    EXPECT_EQ(r[1].type, XS_ERROR);
    EXPECT_EQ(r[1].req_id, 9u);
    EXPECT_EQ(r[1].payload, z("ENOENT"));
    r = run(c, request(XS_DIRECTORY_PART, "data\0"s + "0\0"s));
    auto parts = StoreWire::all_strings(r[0].payload).value();
    ASSERT_EQ(parts.size(), 3u);  // generation, "d", end marker
    EXPECT_EQ(parts[1], "d");
    EXPECT_EQ(parts[2], "");
}

TEST_F(WireFixture, MalformedRequestsGetErrors) {
    StoreConnection c(store, 1);
    struct Case { uint32_t type; std::string payload; const char* err; };
    const Case cases[] = {
        {XS_READ, "name", "EINVAL"},                  // no terminator
        {XS_READ, "a\0b\0"s, "EINVAL"},               // too many args
        {XS_WRITE, "nopathterminator", "EINVAL"},
        {XS_WATCH, z("only-path"), "EINVAL"},
        {XS_SET_PERMS, z("data"), "EINVAL"},          // no permission
        {XS_SET_PERMS, "data\0q1\0"s, "EINVAL"},      // bad letter
        {XS_TRANSACTION_END, z("X"), "EINVAL"},
        {XS_GET_DOMAIN_PATH, z("12abc"), "EINVAL"},
        {XS_DIRECTORY_PART, z("data"), "EINVAL"},
        {XS_INTRODUCE, "1\0" "2\0" "3\0"s, "EACCES"},
        {XS_CONTROL, z("log"), "EACCES"},
        {XS_WATCH_EVENT, z("x"), "EINVAL"},
        {XS_ERROR, z("x"), "EINVAL"},
        {12345, "", "EINVAL"},
        {XS_READ, z("/a//b"), "EINVAL"},
        {XS_READ, z("name"), nullptr},
    };
    for (const Case& k : cases) {
        auto r = run(c, request(k.type, k.payload));
        ASSERT_EQ(r.size(), 1u);
        if (k.err) {
            EXPECT_EQ(r[0].type, XS_ERROR) << k.type;
            EXPECT_EQ(r[0].payload, z(k.err)) << k.type;
        } else {
            EXPECT_EQ(r[0].type, k.type);
        }
    }
    // A payload over XENSTORE_PAYLOAD_MAX: E2BIG, and the stream stays usable.
    xsd_sockmsg h{XS_WRITE, 77, 0, XENSTORE_PAYLOAD_MAX + 100};
    std::string big(reinterpret_cast<const char*>(&h), sizeof(h));
    big += std::string(XENSTORE_PAYLOAD_MAX + 100, 'x');
    auto r = run(c, big + request(XS_READ, z("name"), 78));
    ASSERT_EQ(r.size(), 2u);
    EXPECT_EQ(r[0].req_id, 77u);
    EXPECT_EQ(r[0].payload, z("E2BIG"));
    EXPECT_EQ(r[1].payload, "g");
}

TEST_F(WireFixture, WatchReplyPrecedesItsFirstEvent) {
    StoreConnection c(store, 1);
    auto r = run(c, request(XS_WATCH, "device\0tok\0"s, 5));
    ASSERT_EQ(r.size(), 2u);
    EXPECT_EQ(r[0].type, XS_WATCH);
    EXPECT_EQ(r[1].type, XS_WATCH_EVENT);
    EXPECT_EQ(r[1].payload, "device\0tok\0"s);
    r = run(c, request(XS_WRITE, "device/a\0" "1"s));
    ASSERT_EQ(r.size(), 2u);
    EXPECT_EQ(r[0].type, XS_WRITE);
    EXPECT_EQ(r[1].payload, "device/a\0tok\0"s);
}

TEST_F(WireFixture, TransactionsOverTheWire) {
    StoreConnection c(store, 1);
    auto r = run(c, request(XS_TRANSACTION_START, z("")));
    ASSERT_EQ(r[0].type, XS_TRANSACTION_START);
    uint32_t tx = static_cast<uint32_t>(std::stoul(r[0].payload));
    r = run(c, request(XS_WRITE, "data/t\0" "1"s, 1, tx) + request(XS_TRANSACTION_START, z(""), 2, tx));
    EXPECT_EQ(r[0].payload, "OK\0"s);
    EXPECT_EQ(r[1].payload, z("EBUSY"));  // no nesting
    ASSERT_TRUE(store.write(dom0, 0, "/local/domain/1/data/t", "0"));  // conflict
    r = run(c, request(XS_TRANSACTION_END, z("T"), 3, tx));
    EXPECT_EQ(r[0].payload, z("EAGAIN"));
    r = run(c, request(XS_READ, z("data/t"), 4, tx));
    EXPECT_EQ(r[0].payload, z("ENOENT"));  // the transaction is gone
}

TEST_F(WireFixture, WatchFloodIsBoundedAndRequestsBackOff) {
    StoreConnection c(store, 1, /*max_pending=*/2048);
    ASSERT_EQ(run(c, request(XS_WATCH, "data\0t\0"s)).size(), 2u);
    // The guest never reads its replies: popek stops taking requests once output backs up.
    std::string flood;
    for (int i = 0; i < 200; ++i) flood += request(XS_WRITE, "data/x\0" "1"s, static_cast<uint32_t>(i));
    size_t taken = c.feed(flood);
    EXPECT_LT(taken, flood.size());
    const size_t bound = 2048u + 2 * (sizeof(xsd_sockmsg) + XENSTORE_PAYLOAD_MAX);
    EXPECT_LT(c.pending_output().size(), bound);
    // Changes by others keep firing the guest's watch: those events are dropped, not queued.
    for (int i = 0; i < 1000; ++i) ASSERT_TRUE(store.write(dom0, 0, "/local/domain/1/data/y", "2"));
    EXPECT_LT(c.pending_output().size(), bound);
    EXPECT_GT(c.dropped_events(), 900u);
}

TEST_F(WireFixture, RingCarriesRequestsAndReplies) {
    GuestRing g;
    StoreRing ring(std::span(g.page, sizeof(g.page)));
    ring.initialise();
    EXPECT_EQ(g.in->server_features & XENSTORE_SERVER_FEATURE_ERROR, XENSTORE_SERVER_FEATURE_ERROR);
    StoreConnection c(store, 1);
    // Start near the 32-bit wrap so indices overflow during the test.
    g.in->req_cons = g.in->req_prod = 0xFFFFFFF0u;
    g.in->rsp_cons = g.in->rsp_prod = 0xFFFFFFF8u;
    std::string all;
    for (int i = 0; i < 50; ++i) all += request(XS_READ, z("name"), static_cast<uint32_t>(i));
    std::string replies;
    size_t sent = 0;
    for (int round = 0; round < 1000 && (sent < all.size() || replies.size() < 50 * 17); ++round) {
        sent += g.send(std::string_view(all).substr(sent));
        c.pump(ring);
        replies += g.receive();
    }
    auto msgs = parse_all(replies);
    ASSERT_EQ(msgs.size(), 50u);
    for (uint32_t i = 0; i < 50; ++i) {
        EXPECT_EQ(msgs[i].req_id, i);
        EXPECT_EQ(msgs[i].payload, "g");
    }
    EXPECT_FALSE(ring.broken());
}

TEST_F(WireFixture, HostileRingIndicesBreakTheRing) {
    GuestRing g;
    StoreRing ring(std::span(g.page, sizeof(g.page)));
    ring.initialise();
    StoreConnection c(store, 1);
    g.in->req_cons = 0;
    g.in->req_prod = XENSTORE_RING_SIZE + 1;  // more in flight than the ring holds
    EXPECT_FALSE(c.pump(ring));
    EXPECT_TRUE(ring.broken());
    EXPECT_EQ(g.in->error, static_cast<uint32_t>(XENSTORE_ERROR_RINGIDX));
    EXPECT_EQ(g.in->req_cons, 0u);  // nothing consumed

    GuestRing g2;
    StoreRing ring2(std::span(g2.page, sizeof(g2.page)));
    ring2.initialise();
    g2.send(request(XS_READ, z("name")));
    g2.in->rsp_prod = 0;
    g2.in->rsp_cons = 5000;  // response side impossible
    c.pump(ring2);
    EXPECT_TRUE(ring2.broken());

    StoreRing tiny(std::span(g.page, 100));  // page too small
    EXPECT_TRUE(tiny.broken());
    EXPECT_EQ(tiny.read_requests(std::span(g.page, 10)), 0u);
}
