#include "ddom/remote_grant_access.h"

#include <cstring>

#include <fmt/core.h>

#include "ddom/ddom_wire.h"
#include "ddom/seqpacket.h"

namespace popek::ddom {

pv::GntResult<void> RemoteGrantAccess::copy(std::span<const pv::GrantCopy> ops) {
    constexpr auto kFailed = std::unexpected(int16_t{GNTST_general_error});
    if (m_broken) return kFailed;
    if (ops.empty()) return {};
    if (ops.size() > kMaxCopyOps) return std::unexpected(int16_t{GNTST_bad_copy_arg});
    std::vector<CopyOp> wire;
    std::vector<uint8_t> data;
    for (const pv::GrantCopy& op : ops) {
        if (op.buffer.empty() || op.offset + op.buffer.size() > pv::kXenPageSize)
            return std::unexpected(int16_t{GNTST_bad_copy_arg});
        wire.push_back(CopyOp{op.ref, op.offset, static_cast<uint16_t>(op.buffer.size()), op.to_guest ? uint8_t{1} : uint8_t{0}, {}});
        if (op.to_guest) data.insert(data.end(), op.buffer.begin(), op.buffer.end());
    }
    auto fail_with = [&](const Error& e) {
        fmt::print(stderr, "popek backend: grant copy: {}\n", e.message);
        m_broken = true;
        return kFailed;
    };
    if (auto r = send_message(m_fd, encode_copy(wire, data)); !r) return fail_with(r.error());
    auto got = receive_message(m_fd, m_buf, -1);
    if (!got) return fail_with(got.error());
    auto msg = parse(*got);
    if (!msg) return fail_with(msg.error());
    if (msg->type != MessageType::GrantCopyResult) return fail_with(Error{"answer to a grant copy is not a copy result"});
    if (msg->status != GNTST_okay) return std::unexpected(msg->status);
    if (msg->data.size() != op_bytes(wire, false))
        return fail_with(Error{fmt::format("copy result carries {} bytes, want {}", msg->data.size(), op_bytes(wire, false))});
    size_t at = 0;
    for (const pv::GrantCopy& op : ops) {
        if (op.to_guest) continue;
        std::memcpy(op.buffer.data(), msg->data.data() + at, op.buffer.size());
        at += op.buffer.size();
    }
    return {};
}

}  // namespace popek::ddom
