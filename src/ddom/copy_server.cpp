#include "ddom/copy_server.h"

#include "pv/grant_access.h"

namespace popek::ddom {

std::vector<uint8_t> serve_copy(pv::GrantTable& grants, pv::DomId grantee, const Message& copy) {
    if (copy.type != MessageType::GrantCopy) return encode_copy_result(GNTST_general_error, {});
    // The guest's bytes land in `out`; the driver domain's bytes are read from the message.
    std::vector<uint8_t> out(op_bytes(copy.ops, false));
    std::vector<pv::GrantCopy> ops;
    ops.reserve(copy.ops.size());
    size_t in_at = 0, out_at = 0;
    for (const CopyOp& op : copy.ops) {
        std::span<uint8_t> buf;
        if (op.to_guest) {
            // GrantTable::copy_to only reads the buffer; parse() checked the data length.
            buf = {const_cast<uint8_t*>(copy.data.data()) + in_at, op.length};
            in_at += op.length;
        } else {
            buf = {out.data() + out_at, op.length};
            out_at += op.length;
        }
        ops.push_back(pv::GrantCopy{op.ref, op.offset, op.to_guest != 0, buf});
    }
    pv::LocalGrantAccess access(grants, grantee);
    auto r = access.copy(ops);
    if (!r) return encode_copy_result(r.error(), {});
    return encode_copy_result(GNTST_okay, out);
}

}  // namespace popek::ddom
