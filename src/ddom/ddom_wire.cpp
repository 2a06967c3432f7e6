#include "ddom/ddom_wire.h"

#include <cstring>

namespace popek::ddom {
namespace {

std::vector<uint8_t> frame(MessageType type, uint16_t count, std::span<const uint8_t> a,
                           std::span<const uint8_t> b = {}) {
    MessageHeader h{kMagic, static_cast<uint16_t>(type), count, static_cast<uint32_t>(a.size() + b.size()), 0};
    std::vector<uint8_t> out(sizeof h + a.size() + b.size());
    std::memcpy(out.data(), &h, sizeof h);
    if (!a.empty()) std::memcpy(out.data() + sizeof h, a.data(), a.size());
    if (!b.empty()) std::memcpy(out.data() + sizeof h + a.size(), b.data(), b.size());
    return out;
}

template <class T>
std::span<const uint8_t> bytes_of(const T& v) {
    return {reinterpret_cast<const uint8_t*>(&v), sizeof v};
}

}  // namespace

size_t op_bytes(std::span<const CopyOp> ops, bool to_guest) {
    size_t n = 0;
    for (const CopyOp& op : ops)
        if ((op.to_guest != 0) == to_guest) n += op.length;
    return n;
}

Result<Message> parse(std::span<const uint8_t> d) {
    MessageHeader h;
    if (d.size() < sizeof h) return fail("message of {} bytes is shorter than its header", d.size());
    if (d.size() > kMaxMessage) return fail("message of {} bytes is over the limit {}", d.size(), kMaxMessage);
    std::memcpy(&h, d.data(), sizeof h);
    if (h.magic != kMagic) return fail("bad magic {:#x}", h.magic);
    if (h.reserved != 0) return fail("reserved header field is {:#x}", h.reserved);
    if (h.length != d.size() - sizeof h) return fail("header says {} payload bytes, datagram has {}", h.length, d.size() - sizeof h);
    auto payload = d.subspan(sizeof h);
    Message m{};
    m.type = static_cast<MessageType>(h.type);
    auto exact = [&](size_t want) -> Result<void> {
        if (h.count != 0) return fail("message type {} with count {}", h.type, h.count);
        if (payload.size() != want) return fail("message type {} with {} payload bytes, want {}", h.type, payload.size(), want);
        return {};
    };
    switch (m.type) {
    case MessageType::BlkifRequest:
        TRY_VOID(exact(sizeof(blkif_request_t)));
        std::memcpy(&m.request, payload.data(), sizeof m.request);
        return m;
    case MessageType::BlkifResponse:
        TRY_VOID(exact(sizeof(blkif_response_t)));
        std::memcpy(&m.response, payload.data(), sizeof m.response);
        return m;
    case MessageType::GrantCopyResult:
        if (h.count != 0) return fail("copy result with count {}", h.count);
        if (payload.size() < sizeof(int16_t)) return fail("copy result without a status");
        std::memcpy(&m.status, payload.data(), sizeof m.status);
        m.data = payload.subspan(sizeof(int16_t));
        if (m.status != GNTST_okay && !m.data.empty()) return fail("failed copy result carries {} bytes", m.data.size());
        return m;
    case MessageType::GrantCopy: {
        if (h.count == 0 || h.count > kMaxCopyOps) return fail("copy with {} ops (1..{})", h.count, kMaxCopyOps);
        const size_t table = size_t{h.count} * sizeof(CopyOp);
        if (payload.size() < table) return fail("copy with {} ops but {} payload bytes", h.count, payload.size());
        m.ops.resize(h.count);
        std::memcpy(m.ops.data(), payload.data(), table);
        for (const CopyOp& op : m.ops) {
            if (op.to_guest > 1 || op.pad[0] != 0 || op.pad[1] != 0 || op.pad[2] != 0)
                return fail("copy op with bad flags");
            if (op.length == 0 || size_t{op.offset} + op.length > pv::kXenPageSize)
                return fail("copy op offset {} length {} is not inside one page", op.offset, op.length);
        }
        m.data = payload.subspan(table);
        if (m.data.size() != op_bytes(m.ops, true))
            return fail("copy carries {} bytes, its to-guest ops need {}", m.data.size(), op_bytes(m.ops, true));
        return m;
    }
    }
    return fail("unknown message type {}", h.type);
}

std::vector<uint8_t> encode_request(const blkif_request_t& req) {
    return frame(MessageType::BlkifRequest, 0, bytes_of(req));
}

std::vector<uint8_t> encode_response(const blkif_response_t& rsp) {
    return frame(MessageType::BlkifResponse, 0, bytes_of(rsp));
}

std::vector<uint8_t> encode_copy(std::span<const CopyOp> ops, std::span<const uint8_t> data) {
    return frame(MessageType::GrantCopy, static_cast<uint16_t>(ops.size()),
                 {reinterpret_cast<const uint8_t*>(ops.data()), ops.size_bytes()}, data);
}

std::vector<uint8_t> encode_copy_result(int16_t status, std::span<const uint8_t> data) {
    return frame(MessageType::GrantCopyResult, 0, bytes_of(status), data);
}

}  // namespace popek::ddom
