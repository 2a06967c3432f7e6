// ddom wire format: every message type round-trips, and every malformed shape is refused with a
// reason (both ends parse what the other sends with ddom::parse).
#include <gtest/gtest.h>

#include <cstring>

#include "ddom/ddom_wire.h"

using namespace popek;
using namespace popek::ddom;

namespace {

MessageHeader header_of(const std::vector<uint8_t>& d) {
    MessageHeader h;
    std::memcpy(&h, d.data(), sizeof h);
    return h;
}
void set_header(std::vector<uint8_t>& d, const MessageHeader& h) { std::memcpy(d.data(), &h, sizeof h); }
CopyOp op(uint32_t ref, uint16_t offset, uint16_t length, bool to_guest) {
    return CopyOp{ref, offset, length, static_cast<uint8_t>(to_guest ? 1 : 0), {}};
}

}  // namespace

TEST(DdomWire, RequestAndResponseRoundTrip) {
    blkif_request_t req{};
    req.operation = BLKIF_OP_WRITE;
    req.nr_segments = 2;
    req.id = 0x1234;
    req.sector_number = 77;
    req.seg[1].gref = 9;
    auto m = parse(encode_request(req));
    ASSERT_TRUE(m) << m.error().message;
    EXPECT_EQ(m->type, MessageType::BlkifRequest);
    EXPECT_EQ(std::memcmp(&m->request, &req, sizeof req), 0);

    blkif_response_t rsp{0x1234, BLKIF_OP_WRITE, BLKIF_RSP_ERROR};
    auto r = parse(encode_response(rsp));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->type, MessageType::BlkifResponse);
    EXPECT_EQ(r->response.id, 0x1234u);
    EXPECT_EQ(r->response.status, BLKIF_RSP_ERROR);
}

TEST(DdomWire, CopyCarriesOpsAndTheToGuestBytes) {
    std::vector<CopyOp> ops{op(5, 512, 1024, true), op(6, 0, 4096, false), op(7, 4000, 96, true)};
    std::vector<uint8_t> data(1024 + 96, 0xab);
    auto m = parse(encode_copy(ops, data));
    ASSERT_TRUE(m) << m.error().message;
    ASSERT_EQ(m->ops.size(), 3u);
    EXPECT_EQ(m->ops[1].ref, 6u);
    EXPECT_EQ(m->ops[2].offset, 4000);
    EXPECT_EQ(m->data.size(), data.size());
    EXPECT_EQ(op_bytes(m->ops, false), 4096u);

    std::vector<uint8_t> read(4096, 0xcd);
    auto res = parse(encode_copy_result(GNTST_okay, read));
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, GNTST_okay);
    EXPECT_EQ(res->data.size(), 4096u);
    auto refused = parse(encode_copy_result(GNTST_permission_denied, {}));
    ASSERT_TRUE(refused);
    EXPECT_EQ(refused->status, GNTST_permission_denied);
}

TEST(DdomWire, MalformedHeadersAreRefused) {
    blkif_request_t req{};
    auto good = encode_request(req);
    EXPECT_FALSE(parse(std::span(good).first(10)));  // shorter than the header

    auto bad = good;
    auto h = header_of(bad);
    h.magic ^= 1;
    set_header(bad, h);
    EXPECT_FALSE(parse(bad));

    bad = good;
    h = header_of(bad);
    h.length += 1;  // claims more than the datagram holds
    set_header(bad, h);
    EXPECT_FALSE(parse(bad));

    bad = good;
    h = header_of(bad);
    h.type = 99;
    set_header(bad, h);
    EXPECT_FALSE(parse(bad));

    bad = good;
    h = header_of(bad);
    h.reserved = 1;
    set_header(bad, h);
    EXPECT_FALSE(parse(bad));

    bad = good;
    bad.push_back(0);  // one byte too many for a request, header adjusted
    h = header_of(bad);
    h.length += 1;
    set_header(bad, h);
    EXPECT_FALSE(parse(bad));

    std::vector<uint8_t> huge(kMaxMessage + 1, 0);
    EXPECT_FALSE(parse(huge));
}

TEST(DdomWire, MalformedCopiesAreRefused) {
    std::vector<uint8_t> page(4096, 1);
    // No ops, too many ops.
    EXPECT_FALSE(parse(encode_copy({}, {})));
    std::vector<CopyOp> twelve(kMaxCopyOps + 1, op(1, 0, 8, false));
    EXPECT_FALSE(parse(encode_copy(twelve, {})));
    // An op leaving its page, an empty op, bad flags.
    std::vector<CopyOp> past{op(1, 4000, 200, false)};
    EXPECT_FALSE(parse(encode_copy(past, {})));
    std::vector<CopyOp> empty{op(1, 0, 0, false)};
    EXPECT_FALSE(parse(encode_copy(empty, {})));
    std::vector<CopyOp> flags{op(1, 0, 8, false)};
    flags[0].to_guest = 2;
    EXPECT_FALSE(parse(encode_copy(flags, {})));
    flags[0].to_guest = 0;
    flags[0].pad[1] = 1;
    EXPECT_FALSE(parse(encode_copy(flags, {})));
    // Data not matching the to-guest ops: short, long, data for a from-guest op.
    std::vector<CopyOp> write{op(1, 0, 512, true)};
    EXPECT_FALSE(parse(encode_copy(write, std::span(page).first(511))));
    EXPECT_FALSE(parse(encode_copy(write, std::span(page).first(513))));
    std::vector<CopyOp> read{op(1, 0, 512, false)};
    EXPECT_FALSE(parse(encode_copy(read, std::span(page).first(512))));
    // A count in the header larger than the ops present.
    auto m = encode_copy(read, {});
    auto h = header_of(m);
    h.count = 3;
    set_header(m, h);
    EXPECT_FALSE(parse(m));
    // A failed copy result carrying bytes; a result without a status.
    EXPECT_FALSE(parse(encode_copy_result(GNTST_general_error, std::span(page).first(8))));
    auto res = encode_copy_result(GNTST_okay, {});
    res.resize(sizeof(MessageHeader));
    h = header_of(res);
    h.length = 0;
    set_header(res, h);
    EXPECT_FALSE(parse(res));
}
