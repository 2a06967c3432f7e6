#include "pv/grant_access.h"

namespace popek::pv {

GntResult<void> LocalGrantAccess::copy(std::span<const GrantCopy> ops) {
    for (const GrantCopy& op : ops) {
        auto r = op.to_guest ? m_grants.copy_to(m_grantee, op.ref, op.offset, op.buffer)
                             : m_grants.copy_from(m_grantee, op.ref, op.offset, op.buffer);
        if (!r) return r;
    }
    return {};
}

}  // namespace popek::pv
